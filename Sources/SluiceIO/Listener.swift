// Listener: a non-blocking listening socket on the loop; accepts in batches.
import CSluiceShim
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Accepts connections and hands each new descriptor (non-blocking, TCP_NODELAY) to `onAccept`.
public final class Listener: IOHandler {
    public let fd: Int32
    public let address: SocketAddress
    private unowned let loop: EventLoop
    private let onAccept: (Int32, SocketAddress) -> Void
    private var paused = false

    /// Binds and listens on `address`.
    public init(address: SocketAddress, loop: EventLoop, backlog: Int32 = 4096,
                onAccept: @escaping (Int32, SocketAddress) -> Void) throws {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw IOError.system("socket", errno) }
        _ = sluice_set_reuseaddr(fd)
        if address.family == AF_INET6 { _ = sluice_set_v6only(fd) }
        _ = sluice_set_nonblocking(fd)
        var storage = address.storage
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, address.length) }
        }
        guard rc == 0 else { let e = errno; _ = Glibc_close(fd); throw IOError.system("bind \(address)", e) }
        guard listen(fd, backlog) == 0 else { let e = errno; _ = Glibc_close(fd); throw IOError.system("listen \(address)", e) }
        self.fd = fd
        self.loop = loop
        self.onAccept = onAccept
        var bound = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        self.address = SocketAddress(storage: bound, length: length)
    }

    /// Starts accepting (call on the loop).
    public func start() throws { try loop.register(fd, handler: self, read: true, write: false) }

    /// Stops accepting new connections without closing (admin PAUSE of accepts, or fd exhaustion).
    public func setAccepting(_ accepting: Bool) {
        paused = !accepting
        loop.setInterest(fd, read: accepting, write: false)
    }

    /// Stops listening and closes the socket.
    public func close() {
        loop.deregister(fd)
        _ = Glibc_close(fd)
    }

    public func ioReady(readable: Bool, writable: Bool, hangup: Bool) {
        guard readable, !paused else { return }
        for _ in 0..<64 {
            var peer = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(fd, $0, &length) }
            }
            if client < 0 {
                let e = errno
                if e == EMFILE || e == ENFILE {
                    // Out of descriptors: stop accepting for a moment instead of spinning.
                    setAccepting(false)
                    _ = loop.timers.schedule(now: loop.now, afterMilliseconds: 500) { [weak self] in
                        self?.setAccepting(true)
                    }
                }
                return
            }
            _ = sluice_set_nonblocking(client)
            _ = sluice_set_nodelay(client)
            onAccept(client, SocketAddress(storage: peer, length: length))
        }
    }
}
