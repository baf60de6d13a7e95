// AdminHTTPServerTests: a real server on 127.0.0.1 (port 0): /health, /ready both ways, /metrics, 404, stop.
import Foundation
import Logging
@testable import SluiceCore
import SluiceAdmin
import SluiceConfig
import XCTest

final class AdminHTTPServerTests: XCTestCase {
    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Bool
        init(_ value: Bool) { self.value = value }
        func get() -> Bool { lock.lock(); defer { lock.unlock() }; return value }
        func set(_ newValue: Bool) { lock.lock(); value = newValue; lock.unlock() }
    }

    func testEndpoints() throws {
        let ready = Flag(false)
        let server = AdminHTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0),
                                     snapshot: { Fixtures.snapshot() }, ready: { ready.get() },
                                     logger: Logger(label: "test"), metrics: SluiceMetrics())
        try server.start()
        defer { server.stop() }
        let port = try XCTUnwrap(server.port)
        XCTAssertGreaterThan(port, 0)

        let health = try HTTPGet.get(port: port, path: "/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.body, "ok\n")

        let notReady = try HTTPGet.get(port: port, path: "/ready")
        XCTAssertEqual(notReady.status, 503)
        XCTAssertEqual(notReady.body, "not ready\n")
        ready.set(true)
        let isReady = try HTTPGet.get(port: port, path: "/ready")
        XCTAssertEqual(isReady.status, 200)
        XCTAssertEqual(isReady.body, "ready\n")

        let metrics = try HTTPGet.get(port: port, path: "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertEqual(metrics.headers["content-type"], "text/plain; version=0.0.4")
        let exposition = Exposition(metrics.body)
        XCTAssertEqual(exposition["sluice_up"], 1)
        XCTAssertEqual(exposition[#"sluice_pool_size{database="app",user="app_owner"}"#], 10)

        XCTAssertEqual(try HTTPGet.get(port: port, path: "/nope").status, 404)

        server.stop()
        XCTAssertNil(server.port)
        XCTAssertThrowsError(try HTTPGet.get(port: port, path: "/health"), "closed after stop")
    }

    func testPortInUseIsReported() throws {
        let first = AdminHTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), snapshot: { Fixtures.snapshot() },
                                    ready: { true }, logger: Logger(label: "test"), metrics: SluiceMetrics())
        try first.start()
        defer { first.stop() }
        let port = try XCTUnwrap(first.port)
        let second = AdminHTTPServer(address: ListenAddress(host: "127.0.0.1", port: port), snapshot: { Fixtures.snapshot() },
                                     ready: { true }, logger: Logger(label: "test"), metrics: SluiceMetrics())
        XCTAssertThrowsError(try second.start())
        XCTAssertNil(second.port)
    }

    func testHostNamesOtherThanLocalhostAreRefused() {
        let server = AdminHTTPServer(address: ListenAddress(host: "metrics.internal", port: 0), snapshot: { Fixtures.snapshot() },
                                     ready: { true }, logger: Logger(label: "test"), metrics: SluiceMetrics())
        XCTAssertThrowsError(try server.start()) { error in
            XCTAssertTrue("\(error)".contains("metrics.internal"))
        }
    }
}
