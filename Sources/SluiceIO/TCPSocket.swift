// TCPSocket: a non-blocking stream socket: read, write-through, buffered tail after EAGAIN.
import CSluiceShim
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Outcome of one `read`.
public enum ReadOutcome: Equatable {
    case bytes(Int)
    case wouldBlock
    case endOfFile
    case failed(Int32)
}

/// A connected, non-blocking socket. Writes go straight to the kernel; what the kernel
/// does not take is kept in `pending` and the owner asks the loop for writability.
public final class TCPSocket {
    public let fd: Int32
    public private(set) var isClosed = false
    /// Bytes the kernel did not accept yet.
    public let pending: ByteBuffer
    public var bytesRead: UInt64 = 0
    public var bytesWritten: UInt64 = 0

    public init(fd: Int32, pendingCapacity: Int = 256) {
        self.fd = fd
        self.pending = ByteBuffer(capacity: pendingCapacity)
    }

    public var hasPendingWrites: Bool { !pending.isEmpty }

    /// Reads into `buffer`'s free tail (reserving `chunk` bytes first).
    public func read(into buffer: ByteBuffer, chunk: Int) -> ReadOutcome {
        buffer.reserve(chunk)
        let n = Glibc_read(fd, buffer.writePointer, buffer.writableBytes)
        if n > 0 { buffer.writeIndex += n; bytesRead += UInt64(n); return .bytes(n) }
        if n == 0 { return .endOfFile }
        let e = errno
        if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return .wouldBlock }
        return .failed(e)
    }

    /// Writes `count` bytes: straight through if nothing is pending, else appended.
    /// Returns false if the socket failed (the caller closes it).
    public func write(_ pointer: UnsafeRawPointer, count: Int) -> Bool {
        if count == 0 { return true }
        if !pending.isEmpty { pending.append(pointer, count: count); return true }
        var offset = 0
        while offset < count {
            let n = Glibc_write(fd, pointer + offset, count - offset)
            if n > 0 { offset += n; bytesWritten += UInt64(n); continue }
            let e = errno
            if n < 0 && e == EINTR { continue }
            if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) {
                pending.append(pointer + offset, count: count - offset)
                return true
            }
            return false
        }
        return true
    }

    public func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { write($0.baseAddress!, count: $0.count) }
    }

    /// Flushes `pending`; returns false on failure. `pending.isEmpty` tells if all went.
    public func flushPending() -> Bool {
        while !pending.isEmpty {
            let n = Glibc_write(fd, pending.readPointer, pending.readableBytes)
            if n > 0 { pending.consume(n); bytesWritten += UInt64(n); continue }
            let e = errno
            if n < 0 && e == EINTR { continue }
            if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) { return true }
            return false
        }
        pending.shrink(to: 256)
        return true
    }

    /// Closes the descriptor once.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        _ = Glibc_close(fd)
    }

    /// Half-closes writing (used after a final error message).
    public func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }

    public func setKeepAlive(idle: Int, interval: Int, count: Int) {
        _ = sluice_set_keepalive(fd, 1, Int32(idle), Int32(interval), Int32(count))
    }
}

@inline(__always) func Glibc_read(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(fd, p, n)
    #else
    return Darwin.read(fd, p, n)
    #endif
}
@inline(__always) func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
@inline(__always) func Glibc_close(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}
