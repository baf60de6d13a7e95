// Connector: non-blocking TCP connect on the loop, bounded by a timeout.
import CSluiceShim
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Starts a non-blocking connect; reports a connected descriptor or an error on the loop.
public final class Connector: IOHandler {
    private unowned let loop: EventLoop
    private var fd: Int32 = -1
    private var addresses: [SocketAddress] = []
    private var lastError = "no address"
    private var completion: ((Result<Int32, IOError>) -> Void)?
    private var timer: Timer?

    /// Connects to `host:port` (resolved off the loop when it is a name) within `timeout` seconds.
    public static func connect(host: String, port: Int, timeout: Double, loop: EventLoop,
                               completion: @escaping (Result<Int32, IOError>) -> Void) -> Connector {
        let connector = Connector(loop: loop, completion: completion)
        connector.timer = loop.timers.schedule(now: loop.now, afterMilliseconds: UInt64(max(timeout, 0.001) * 1000)) {
            [weak connector] in connector?.fail("timeout expired after \(timeout) s")
        }
        if let numeric = SocketAddress(numericHost: host, port: port) {
            connector.addresses = [numeric]
            connector.tryNext()
        } else {
            DispatchQueue.global().async {
                let result = Result { try SocketAddress.resolve(host: host, port: port) }
                loop.execute {
                    switch result {
                    case .success(let list): connector.addresses = list; connector.tryNext()
                    case .failure(let error): connector.fail("\(error)")
                    }
                }
            }
        }
        return connector
    }

    private init(loop: EventLoop, completion: @escaping (Result<Int32, IOError>) -> Void) {
        self.loop = loop
        self.completion = completion
    }

    /// Abandons the attempt; the completion is not called.
    public func cancel() {
        completion = nil
        timer?.cancel()
        closeSocket()
    }

    private func tryNext() {
        guard completion != nil else { return }
        while !addresses.isEmpty {
            let address = addresses.removeFirst()
            let s = socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
            if s < 0 { lastError = "socket: \(String(cString: strerror(errno)))"; continue }
            _ = sluice_set_nonblocking(s)
            _ = sluice_set_nodelay(s)
            var storage = address.storage
            let rc = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, address.length) }
            }
            if rc == 0 { fd = s; succeed(); return }
            if errno == EINPROGRESS {
                fd = s
                do { try loop.register(s, handler: self, read: false, write: true) } catch {
                    lastError = "\(error)"; closeSocket(); continue
                }
                return
            }
            lastError = "connection to \(address) failed: \(String(cString: strerror(errno)))"
            _ = Glibc_close(s)
        }
        fail(lastError)
    }

    public func ioReady(readable: Bool, writable: Bool, hangup: Bool) {
        guard fd >= 0 else { return }
        let error = sluice_socket_error(fd)
        loop.deregister(fd)
        if error == 0 { succeed(); return }
        lastError = "connection failed: \(String(cString: strerror(error)))"
        _ = Glibc_close(fd)
        fd = -1
        tryNext()
    }

    private func succeed() {
        timer?.cancel()
        let s = fd
        fd = -1
        guard let done = completion else { _ = Glibc_close(s); return }
        completion = nil
        done(.success(s))
    }

    private func fail(_ reason: String) {
        timer?.cancel()
        closeSocket()
        guard let done = completion else { return }
        completion = nil
        done(.failure(.resolve(reason)))
    }

    private func closeSocket() {
        if fd >= 0 { loop.deregister(fd); _ = Glibc_close(fd); fd = -1 }
    }
}
