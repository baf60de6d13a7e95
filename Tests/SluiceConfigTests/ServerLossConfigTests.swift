// ServerLossConfigTests: `server_loss` — its default, per-database override, environment overrides and refusals.

import SluiceConfig
import XCTest

final class ServerLossConfigTests: XCTestCase {
    func testDefaultIsRecover() throws {
        let config = try XCTUnwrap(parsed(minimalDatabase))
        XCTAssertEqual(SluiceConfig().serverLoss, .recover)
        XCTAssertEqual(config.serverLoss, .recover)
        XCTAssertEqual(config.serverLoss(for: try XCTUnwrap(config.databases["app"])), .recover)
    }

    func testGlobalValueAndDatabaseOverride() throws {
        let config = try XCTUnwrap(parsed("""
            [sluice]
            server_loss = "close"
            [databases.app]
            url = "postgresql://u@h/d"
            [databases.neon]
            url = "postgresql://u@h/n"
            server_loss = "Recover"
            """))
        XCTAssertEqual(config.serverLoss, .close)
        XCTAssertEqual(config.serverLoss(for: try XCTUnwrap(config.databases["app"])), .close, "the global value")
        XCTAssertEqual(config.serverLoss(for: try XCTUnwrap(config.databases["neon"])), .recover, "the database's own")
    }

    func testEnvironmentOverrides() throws {
        let config = try XCTUnwrap(parsed(minimalDatabase, environment: [
            "SLUICE_SERVER_LOSS": "close",
            "SLUICE_DATABASES__app__SERVER_LOSS": "recover",
        ]))
        XCTAssertEqual(config.serverLoss, .close)
        XCTAssertEqual(config.databases["app"]?.serverLoss, .recover)
    }

    func testUnknownWordsAreRefused() {
        XCTAssertEqual(refusals("""
            [sluice]
            server_loss = "retry"
            [databases.app]
            url = "postgresql://u@h/d"
            server_loss = "hide"
            """), [
                "sluice.toml: databases.app.server_loss: must be one of recover, close, got \"hide\"",
                "sluice.toml: sluice.server_loss: must be one of recover, close, got \"retry\"",
            ])
    }
}
