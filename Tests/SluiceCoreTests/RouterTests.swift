// RouterTests: what a login names — console or database — its credentials, privilege and TLS policy.

import XCTest
import SluiceConfig
@testable import SluiceCore

final class RouterTests: XCTestCase {
    private func config(clientTLS: ClientTLSMode? = nil, appTLS: ClientTLSMode? = nil) throws -> SluiceConfig {
        var config = SluiceConfig()
        var app = DatabaseConfig(name: "app", url: try UpstreamURL.parse("postgresql://app:app-secret@127.0.0.1:5432/app"))
        app.clientTLS = appTLS
        config.databases["app"] = app
        config.databases["other"] = DatabaseConfig(name: "other", url: try UpstreamURL.parse("postgresql://other:pw@127.0.0.1:5432/other"))
        config.adminUsers = ["boss"]
        config.statsUsers = ["watcher"]
        config.clientTLS = clientTLS
        return config
    }

    private func settings(_ config: SluiceConfig, _ name: String) -> PoolSettings {
        PoolSettings(config: config, database: config.databases[name]!)
    }

    func testADatabaseLoginGetsItsURLUsersCredentials() throws {
        let config = try config()
        let router = Router(config: config)
        guard case .database(let credentials, let tlsRequired) = router.lookup(database: "app", user: "app", pool: settings(config, "app")) else {
            return XCTFail("app is a database")
        }
        XCTAssertEqual(credentials?.user, "app")
        XCTAssertFalse(tlsRequired)
        guard case .database(let nobody, _) = router.lookup(database: "app", user: "other", pool: settings(config, "app")) else {
            return XCTFail("app is a database")
        }
        XCTAssertNil(nobody, "another database's URL user is no user of app: authentication runs and fails")
    }

    func testAnUnknownOrRemovedDatabaseIsUnknown() throws {
        let router = Router(config: try config())
        guard case .unknownDatabase = router.lookup(database: "nope", user: "app", pool: nil) else {
            return XCTFail("no pool means unknown database")
        }
    }

    func testTheConsoleTakesAnyKnownUserAndPrivilegesComeFromTheLists() throws {
        let router = Router(config: try config())
        for name in ["sluice", "pgbouncer"] {
            XCTAssertTrue(router.isAdminDatabase(name))
            guard case .database(let credentials, _) = router.lookup(database: name, user: "other", pool: nil) else {
                return XCTFail("\(name) is the console")
            }
            XCTAssertEqual(credentials?.user, "other")
        }
        XCTAssertFalse(router.isAdminDatabase("app"))
        XCTAssertEqual(router.adminPrivilege(database: "sluice", user: "boss"), .admin)
        XCTAssertEqual(router.adminPrivilege(database: "pgbouncer", user: "watcher"), .stats)
        XCTAssertNil(router.adminPrivilege(database: "sluice", user: "app"), "neither list: refused with 42501")
        XCTAssertNil(router.adminPrivilege(database: "app", user: "boss"), "not the console")
    }

    func testTLSPolicyPerDatabaseAndAvailability() throws {
        let strict = try config(appTLS: .require)
        let router = Router(config: strict)
        guard case .database(_, let appTLS) = router.lookup(database: "app", user: "app", pool: settings(strict, "app")),
              case .database(_, let otherTLS) = router.lookup(database: "other", user: "other", pool: settings(strict, "other")) else {
            return XCTFail("both are databases")
        }
        XCTAssertTrue(appTLS)
        XCTAssertFalse(otherTLS)
        XCTAssertTrue(router.clientTLSAvailable(certificateLoaded: true), "one database allows TLS")
        XCTAssertFalse(router.clientTLSAvailable(certificateLoaded: false), "no certificate, no TLS")
        XCTAssertFalse(Router(config: try config(clientTLS: .disable)).clientTLSAvailable(certificateLoaded: true))
    }

    func testReloadReplacesCredentials() throws {
        var router = Router(config: try config())
        var changed = try config()
        changed.databases["app"] = nil
        changed.databases["fresh"] = DatabaseConfig(name: "fresh", url: try UpstreamURL.parse("postgresql://fresh:pw@127.0.0.1:5432/fresh"))
        router.apply(changed)
        guard case .database(let credentials, _) = router.lookup(database: "fresh", user: "fresh", pool: settings(changed, "fresh")) else {
            return XCTFail("fresh is a database after the reload")
        }
        XCTAssertEqual(credentials?.user, "fresh")
    }

    func testClientStateNames() {
        XCTAssertEqual(ProxyRuntime.clientStateName(.login, serverInTransaction: false, requestRunning: false), "login")
        XCTAssertEqual(ProxyRuntime.clientStateName(.admin, serverInTransaction: false, requestRunning: false), "idle")
        XCTAssertEqual(ProxyRuntime.clientStateName(.waiting, serverInTransaction: false, requestRunning: false), "waiting")
        XCTAssertEqual(ProxyRuntime.clientStateName(.linked, serverInTransaction: true, requestRunning: false), "idle_in_transaction")
        XCTAssertEqual(ProxyRuntime.clientStateName(.linked, serverInTransaction: true, requestRunning: true), "active")
        XCTAssertEqual(ProxyRuntime.clientStateName(.linked, serverInTransaction: false, requestRunning: false), "active")
        XCTAssertNil(ProxyRuntime.clientStateName(.closed, serverInTransaction: false, requestRunning: false))
    }
}
