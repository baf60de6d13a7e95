// AdminRoutes: what /metrics, /health and /ready answer (the HTTP handler, free of sockets).
import Dispatch
import FlyingFox
import Foundation
import SluiceCore

/// Builds the routed handler. The caller's closures may block briefly (they hop onto the proxy's
/// loop), so they run on a Dispatch global queue, never on a Swift concurrency thread.
struct AdminRoutes: Sendable {
    static let metricsContentType = "text/plain; version=0.0.4"

    let snapshot: @Sendable () -> ProxySnapshot
    let ready: @Sendable () -> Bool
    let metrics: SluiceMetrics

    func handler() -> RoutedHTTPHandler {
        var routes = RoutedHTTPHandler()
        routes.appendRoute("GET /metrics") { [self] _ in await metricsResponse() }
        routes.appendRoute("GET /health") { _ in Self.text(.ok, "ok") }
        routes.appendRoute("GET /ready") { [self] _ in
            await Self.offConcurrencyThreads(ready) ? Self.text(.ok, "ready") : Self.text(.serviceUnavailable, "not ready")
        }
        return routes
    }

    func metricsResponse() async -> HTTPResponse {
        let metrics = self.metrics
        let snapshot = self.snapshot
        let body = await Self.offConcurrencyThreads { metrics.render(snapshot()) }
        return HTTPResponse(statusCode: .ok, headers: [.contentType: Self.metricsContentType], body: Data(body.utf8))
    }

    static func text(_ status: HTTPStatusCode, _ body: String) -> HTTPResponse {
        HTTPResponse(statusCode: status, headers: [.contentType: "text/plain; charset=utf-8"], body: Data((body + "\n").utf8))
    }

    /// Runs `work` on a Dispatch global queue and resumes with its result.
    static func offConcurrencyThreads<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async { continuation.resume(returning: work()) }
        }
    }
}
