// SluiceConfigTests: every `[sluice]` key's default and the per-database fallbacks.

import SluiceConfig
import XCTest

final class SluiceConfigTests: XCTestCase {
    func testEveryKeyHasItsDefault() {
        let config = SluiceConfig()
        XCTAssertEqual(config.listen, [ListenAddress(host: "127.0.0.1", port: 6432)])
        XCTAssertEqual(config.poolMode, .transaction)
        XCTAssertEqual(config.maxClientConn, 5000)
        XCTAssertEqual(config.defaultPoolSize, 20)
        XCTAssertEqual(config.minPoolSize, 0)
        XCTAssertEqual(config.serverResetQuery, "DISCARD ALL")
        XCTAssertEqual(config.clientAuth, .scramSHA256)
        XCTAssertEqual(config.maxPacketSize, 67_108_864)
        XCTAssertEqual(config.clientLoginTimeout, 60)
        XCTAssertEqual(config.queryWaitTimeout, 120)
        XCTAssertEqual(config.serverConnectTimeout, 15)
        XCTAssertEqual(config.serverLoginRetry, 15)
        XCTAssertEqual(config.serverLifetime, 3600)
        XCTAssertEqual(config.serverIdleTimeout, 60)
        XCTAssertEqual(config.shutdownTimeout, 30)
        XCTAssertEqual(config.workers, 1)
        XCTAssertEqual(config.logLevel, .info)
        XCTAssertNil(config.adminListen)
        XCTAssertEqual(config.metricsApplicationLimit, 20)
        XCTAssertEqual(config.databases, [:])
        XCTAssertEqual(config.users, [:])
        XCTAssertNil(config.sourcePath)
    }

    func testAFileWithOnlyADatabaseKeepsEveryDefault() throws {
        var config = try XCTUnwrap(parsed(minimalDatabase))
        config.databases = [:]
        XCTAssertEqual(config, SluiceConfig())
    }

    func testDatabaseFallsBackToGlobalPoolSettings() throws {
        let url = try UpstreamURL.parse("postgresql://u@h/d")
        var config = SluiceConfig()
        config.defaultPoolSize = 12
        config.minPoolSize = 3
        config.poolMode = .session
        let plain = DatabaseConfig(name: "d", url: url)
        XCTAssertEqual(config.poolSize(for: plain), 12)
        XCTAssertEqual(config.minPoolSize(for: plain), 3)
        XCTAssertEqual(config.poolMode(for: plain), .session)

        let own = DatabaseConfig(name: "d", url: url, poolSize: 2, minPoolSize: 1, poolMode: .transaction)
        XCTAssertEqual(config.poolSize(for: own), 2)
        XCTAssertEqual(config.minPoolSize(for: own), 1)
        XCTAssertEqual(config.poolMode(for: own), .transaction)

        let small = DatabaseConfig(name: "d", url: url, poolSize: 2)
        XCTAssertEqual(config.minPoolSize(for: small), 2, "the global minimum is capped by the pool size")
    }

    func testPrintingAConfigNeverShowsPasswords() throws {
        let config = try XCTUnwrap(parsed("""
            [databases.app]
            url = "postgresql://app:upstream-secret@db.example.com/app"
            [users.alice]
            password = "alice-secret"
            """))
        for text in ["\(config)", String(reflecting: config), dumped(config)] {
            XCTAssertFalse(text.contains("upstream-secret"), text)
            XCTAssertFalse(text.contains("alice-secret"), text)
        }
    }

    private func dumped(_ value: some Any) -> String {
        var text = ""
        dump(value, to: &text)
        return text
    }
}
