// AdminHTTPServer: serves /metrics, /health and /ready over HTTP with FlyingFox, off the proxy's loop.
import Dispatch
import FlyingFox
import FlyingSocks
import Foundation
import Logging
import SluiceConfig
import SluiceCore

/// Why the admin HTTP server could not start.
public enum AdminHTTPServerError: Error, CustomStringConvertible {
    /// `admin_listen` names a host that is not an IPv4/IPv6 literal or `localhost`.
    case unsupportedAddress(ListenAddress)
    case alreadyStarted
    /// Binding or listening failed (e.g. the port is taken).
    case couldNotListen(ListenAddress, String)
    /// Not listening after `startTimeout` seconds.
    case startTimedOut(ListenAddress)

    public var description: String {
        switch self {
        case .unsupportedAddress(let address):
            return "admin_listen \(address): the host must be an IPv4 or IPv6 address or localhost"
        case .alreadyStarted: return "the admin HTTP server is already running"
        case .couldNotListen(let address, let reason): return "admin_listen \(address): \(reason)"
        case .startTimedOut(let address): return "admin_listen \(address): not listening after 10 s"
        }
    }
}

/// The HTTP endpoints for Prometheus and orchestrators: `GET /metrics` (text exposition 0.0.4),
/// `GET /health` (200 `ok` while the process runs), `GET /ready` (200 `ready` / 503 `not ready`).
///
/// FlyingFox runs in a detached task on Swift concurrency threads and its own epoll queue; the proxy's
/// loop is touched only inside the caller's `snapshot` / `ready` closures, which run on a Dispatch
/// global queue. `start()` and `stop()` block the calling thread briefly: call them from the main
/// thread (or any thread that may wait), not from a Swift concurrency task or the proxy's loop.
public final class AdminHTTPServer: @unchecked Sendable {
    public let address: ListenAddress
    private let routes: AdminRoutes
    private let logger: Logger
    private let lock = NSLock()
    private var server: HTTPServer?
    private var runTask: Task<Void, Never>?
    private var stopping = StopFlag()
    private var boundPort: Int?
    static let startTimeout: Double = 10

    /// Serves the process-wide `SluiceMetrics.bootstrap()` registry.
    public convenience init(address: ListenAddress, snapshot: @escaping @Sendable () -> ProxySnapshot,
                            ready: @escaping @Sendable () -> Bool, logger: Logger) {
        self.init(address: address, snapshot: snapshot, ready: ready, logger: logger, metrics: .bootstrap())
    }

    /// Serves `metrics` (tests use a registry of their own).
    public init(address: ListenAddress, snapshot: @escaping @Sendable () -> ProxySnapshot,
                ready: @escaping @Sendable () -> Bool, logger: Logger, metrics: SluiceMetrics) {
        self.address = address
        self.routes = AdminRoutes(snapshot: snapshot, ready: ready, metrics: metrics)
        self.logger = logger
    }

    /// The port it listens on (the real one when `address.port` is 0); nil before `start()`.
    public var port: Int? {
        lock.lock()
        defer { lock.unlock() }
        return boundPort
    }

    /// Binds and starts serving; returns once listening. Throws when the address cannot be used.
    public func start() throws {
        let socketAddress = try Self.socketAddress(address)
        let stopping = StopFlag()
        let server = HTTPServer(config: HTTPServer.Configuration(
            address: socketAddress, timeout: 15, logger: SwiftLogBridge(logger: logger, stopping: stopping)),
            handler: routes.handler())
        lock.lock()
        guard self.server == nil else { lock.unlock(); throw AdminHTTPServerError.alreadyStarted }
        self.server = server
        self.stopping = stopping
        lock.unlock()

        let outcome = StartOutcome()
        let logger = self.logger
        let address = self.address
        let task = Task.detached {
            do {
                try await server.run()
            } catch {
                if outcome.finish(.failure(.couldNotListen(address, "\(error)"))) { return }
                if stopping.isSet {
                    logger.debug("admin HTTP server stopped")
                } else {
                    logger.error("admin HTTP server failed", metadata: ["address": "\(address)", "error": "\(error)"])
                }
            }
        }
        Task.detached {
            do {
                try await server.waitUntilListening(timeout: Self.startTimeout)
                let port: Int? = switch await server.listeningAddress {
                case .ip4(_, let port), .ip6(_, let port): Int(port)
                default: nil
                }
                _ = outcome.finish(.success(port ?? address.port))
            } catch {
                _ = outcome.finish(.failure(.startTimedOut(address)))
            }
        }
        switch outcome.wait(seconds: Self.startTimeout + 1) {
        case .success(let port):
            lock.lock()
            runTask = task
            boundPort = port
            lock.unlock()
            logger.info("admin HTTP endpoints listening", metadata: [
                "address": "\(ListenAddress(host: address.host, port: port))", "paths": "/metrics /health /ready"])
        case .failure(let error):
            task.cancel()
            lock.lock()
            self.server = nil
            lock.unlock()
            throw error
        }
    }

    /// Closes the listening socket and open connections; returns when done (at most ~5 s).
    public func stop() {
        lock.lock()
        let server = self.server
        let task = runTask
        stopping.set()
        self.server = nil
        runTask = nil
        boundPort = nil
        lock.unlock()
        guard let server else { return }
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await server.stop(timeout: 1)
            task?.cancel()
            done.signal()
        }
        _ = done.wait(timeout: .now() + 5)
    }

    static func socketAddress(_ address: ListenAddress) throws -> any FlyingSocks.SocketAddress {
        guard let port = UInt16(exactly: address.port) else { throw AdminHTTPServerError.unsupportedAddress(address) }
        let host = address.host == "localhost" ? "127.0.0.1" : address.host
        if host.contains(":") {
            guard let ip6 = try? sockaddr_in6.inet6(ip6: host, port: port) else {
                throw AdminHTTPServerError.unsupportedAddress(address)
            }
            return ip6
        }
        guard let ip4 = try? sockaddr_in.inet(ip4: host, port: port) else {
            throw AdminHTTPServerError.unsupportedAddress(address)
        }
        return ip4
    }
}

/// The first of "listening on port N" and "failed", handed from the server's tasks to `start()`.
private final class StartOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private let semaphore = DispatchSemaphore(value: 0)
    private var result: Result<Int, AdminHTTPServerError>?

    /// Records `result` unless one is already there; true when this call recorded it.
    func finish(_ result: Result<Int, AdminHTTPServerError>) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard self.result == nil else { return false }
        self.result = result
        semaphore.signal()
        return true
    }

    func wait(seconds: Double) -> Result<Int, AdminHTTPServerError> {
        _ = semaphore.wait(timeout: .now() + seconds)
        lock.lock()
        defer { lock.unlock() }
        return result ?? .failure(.couldNotListen(ListenAddress(host: "?", port: 0), "no answer from the HTTP server"))
    }
}
