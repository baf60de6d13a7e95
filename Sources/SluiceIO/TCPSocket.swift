// TCPSocket: a non-blocking stream socket: read, write-through, buffered tail after EAGAIN; optionally TLS.
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
///
/// After `startTLS` the same calls carry plaintext: `read` decrypts, `write` encrypts, and
/// `pending` holds ciphertext (see TLS/TCPSocket+TLS.swift).
public final class TCPSocket {
    public let fd: Int32
    public private(set) var isClosed = false
    /// Bytes the kernel did not accept yet.
    public let pending: ByteBuffer
    public var bytesRead: UInt64 = 0
    public var bytesWritten: UInt64 = 0
    /// The TLS session once `startTLS` was called; nil on a plain socket.
    public internal(set) var tlsSession: TLSSession?
    /// The last TLS failure seen by `read`, `write` or `continueHandshake` (for the close reason).
    public internal(set) var lastTLSError: TLSError?

    public init(fd: Int32, pendingCapacity: Int = 16) {
        self.fd = fd
        self.pending = ByteBuffer(capacity: pendingCapacity)
    }

    public var hasPendingWrites: Bool { !pending.isEmpty }

    /// Reads into `buffer`'s free tail (reserving `chunk` bytes first).
    /// On a TLS socket: decrypted bytes; `.wouldBlock` until a whole record is there;
    /// `.endOfFile` on close_notify or TCP end; `.failed(EPROTO)` on a TLS error (`lastTLSError`).
    public func read(into buffer: ByteBuffer, chunk: Int) -> ReadOutcome {
        if let session = tlsSession { return readTLS(session, into: buffer, chunk: chunk) }
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
    /// On a TLS socket the bytes are encrypted first; ciphertext the kernel refuses goes to `pending`.
    public func write(_ pointer: UnsafeRawPointer, count: Int) -> Bool {
        if count == 0 { return true }
        if let session = tlsSession { return writeTLS(session, pointer, count: count) }
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

    /// Closes the descriptor once. A healthy TLS session first gets a best-effort close_notify
    /// (only when nothing is pending, and never waiting for the kernel).
    public func close() {
        guard !isClosed else { return }
        if let session = tlsSession { sendCloseNotifyBestEffort(session) }
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
