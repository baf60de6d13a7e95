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
        XCTAssertTrue(config.notifyRelay)
        XCTAssertEqual(config.notifyQueueLimit, 1000)
        XCTAssertEqual(config.notifyQueueBytes, 1_048_576)
        XCTAssertEqual(config.notifyMaxChannels, 1000)
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

    func testNotifyRelayIsGlobalWithAPerDatabaseOverride() throws {
        let config = try XCTUnwrap(parsed("""
            [sluice]
            notify_relay = false
            notify_queue_limit = 50
            notify_queue_bytes = 65536
            notify_max_channels = 10
            [databases.app]
            url = "postgresql://u@h/app"
            notify_relay = true
            [databases.other]
            url = "postgresql://u@h/other"
            """))
        XCTAssertFalse(config.notifyRelay)
        XCTAssertEqual(config.notifyQueueLimit, 50)
        XCTAssertEqual(config.notifyQueueBytes, 65536)
        XCTAssertEqual(config.notifyMaxChannels, 10)
        XCTAssertTrue(config.notifyRelay(for: try XCTUnwrap(config.databases["app"])))
        XCTAssertFalse(config.notifyRelay(for: try XCTUnwrap(config.databases["other"])))
        let fromEnvironment = try XCTUnwrap(parsed(minimalDatabase, environment: [
            "SLUICE_NOTIFY_RELAY": "false", "SLUICE_DATABASES__app__NOTIFY_RELAY": "true", "SLUICE_NOTIFY_QUEUE_LIMIT": "7"]))
        XCTAssertFalse(fromEnvironment.notifyRelay)
        XCTAssertEqual(fromEnvironment.databases["app"]?.notifyRelay, true)
        XCTAssertEqual(fromEnvironment.notifyQueueLimit, 7)
        XCTAssertEqual(refusals("[sluice]\nnotify_queue_limit = 0\nnotify_queue_bytes = 100\n" + minimalDatabase), [
            "sluice.toml: sluice.notify_queue_bytes: must be between 1024 and 1073741824, got 100",
            "sluice.toml: sluice.notify_queue_limit: must be between 1 and 1000000, got 0",
        ])
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
