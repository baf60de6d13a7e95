// EnvironmentTests: `SLUICE_*` overrides, env-created databases and users, and their errors.

import SluiceConfig
import XCTest

final class EnvironmentTests: XCTestCase {
    func testGlobalKeysOverrideTheFile() throws {
        let config = try XCTUnwrap(parsed("[sluice]\npool_mode = \"transaction\"\nworkers = 2\n" + minimalDatabase, environment: [
            "SLUICE_POOL_MODE": "session",
            "SLUICE_MAX_CLIENT_CONN": "100",
            "SLUICE_QUERY_WAIT_TIMEOUT": "0.25",
            "SLUICE_LISTEN": "0.0.0.0:6432,[::]:6432",
            "SLUICE_ADMIN_LISTEN": "127.0.0.1:9187",
            "SLUICE_CONFIG": "/etc/sluice/sluice.toml",
            "SLUICE_LOG_FORMAT": "json",
            "PATH": "/usr/bin",
        ]))
        XCTAssertEqual(config.poolMode, .session)
        XCTAssertEqual(config.maxClientConn, 100)
        XCTAssertEqual(config.queryWaitTimeout, 0.25)
        XCTAssertEqual(config.workers, 2, "keys the environment does not name keep the file's value")
        XCTAssertEqual(config.listen, [ListenAddress(host: "0.0.0.0", port: 6432), ListenAddress(host: "::", port: 6432)])
        XCTAssertEqual(config.adminListen, ListenAddress(host: "127.0.0.1", port: 9187))
    }

    func testEmptyVariableUnsetsAnOptionalKey() throws {
        let config = try XCTUnwrap(parsed("[sluice]\nadmin_listen = \"127.0.0.1:9187\"\n" + minimalDatabase,
                                          environment: ["SLUICE_ADMIN_LISTEN": ""]))
        XCTAssertNil(config.adminListen)
    }

    func testDatabaseKeysOverrideTheFile() throws {
        let config = try XCTUnwrap(parsed(minimalDatabase, environment: [
            "SLUICE_DATABASES__app__POOL_SIZE": "7",
            "SLUICE_DATABASES__APP__POOL_MODE": "session",
            "SLUICE_DATABASES__app__url": "postgresql://other@db2.example.com/app2",
        ]))
        XCTAssertEqual(Array(config.databases.keys), ["app"], "APP matches app ignoring case")
        let app = try XCTUnwrap(config.databases["app"])
        XCTAssertEqual(app.poolSize, 7)
        XCTAssertEqual(app.poolMode, .session)
        XCTAssertEqual(app.url.host, "db2.example.com")
        XCTAssertEqual(app.url.database, "app2")
    }

    func testExactNameWinsOverCaseInsensitiveMatch() throws {
        let config = try XCTUnwrap(parsed("""
            [databases.app]
            url = "postgresql://u@h/app"
            [databases.App]
            url = "postgresql://u@h/App"
            """, environment: ["SLUICE_DATABASES__App__POOL_SIZE": "3"]))
        XCTAssertEqual(config.databases["App"]?.poolSize, 3)
        XCTAssertNil(config.databases["app"]?.poolSize)
        XCTAssertEqual(refusals("""
            [databases.app]
            url = "postgresql://u@h/app"
            [databases.App]
            url = "postgresql://u@h/App"
            """, environment: ["SLUICE_DATABASES__APP__POOL_SIZE": "3"]), [
                #"environment: SLUICE_DATABASES__APP__POOL_SIZE: "APP" matches more than one name ignoring case: App, app"#,
            ])
    }

    func testEnvironmentCreatesDatabasesAndUsers() throws {
        let config = try XCTUnwrap(parsed(minimalDatabase, environment: [
            "SLUICE_DATABASES__reports__URL": "postgresql://reader:pw@10.0.0.9/reports",
            "SLUICE_DATABASES__reports__POOL_SIZE": "4",
            "SLUICE_USERS__alice__PASSWORD": "alice-pw",
        ]))
        XCTAssertEqual(config.databases.keys.sorted(), ["app", "reports"])
        XCTAssertEqual(config.databases["reports"]?.name, "reports")
        XCTAssertEqual(config.databases["reports"]?.url.user, "reader")
        XCTAssertEqual(config.databases["reports"]?.poolSize, 4)
        XCTAssertEqual(config.users["alice"], UserConfig(name: "alice", password: "alice-pw"))
    }

    func testConfigurationFromTheEnvironmentAlone() throws {
        let environment = [
            "SLUICE_LISTEN": "*:6432",
            "SLUICE_DATABASES__app__URL": "postgresql://alex:AbC123@ep-cool-darkness-123456.us-east-2.aws.neon.tech/dbname?sslmode=require",
        ]
        let config = try ConfigLoader.fromEnvironment(environment)
        XCTAssertEqual(config.listen.count, 2)
        XCTAssertEqual(config.databases["app"]?.url.database, "dbname")
        XCTAssertNil(config.sourcePath)
        XCTAssertEqual(try ConfigLoader.load(path: "", environment: environment), config)
    }

    func testEnvironmentErrors() {
        XCTAssertEqual(refusals(minimalDatabase, environment: [
            "SLUICE_POLL_MODE": "session",
            "SLUICE_MAX_CLIENT_CONN": "lots",
            "SLUICE_WORKERS": "0",
            "SLUICE_SERVER_LIFETIME": "soon",
            "SLUICE_DATABASES__app__POOLSIZE": "3",
            "SLUICE_DATABASES__URL": "postgresql://u@h/d",
            "SLUICE_USERS__bob__PASSWORD": "",
            "SLUICE_pool_mode": "session",
        ]), [
            "environment: SLUICE_DATABASES__URL: expected SLUICE_DATABASES__<NAME>__<KEY>",
            "environment: SLUICE_DATABASES__app__POOLSIZE: unknown key",
            #"environment: SLUICE_MAX_CLIENT_CONN: expected an integer, got "lots""#,
            "environment: SLUICE_POLL_MODE: unknown key",
            #"environment: SLUICE_SERVER_LIFETIME: expected a number of seconds, got "soon""#,
            "environment: SLUICE_USERS__bob__PASSWORD: must not be empty",
            "environment: SLUICE_WORKERS: must be between 1 and 64, got 0",
            "environment: SLUICE_pool_mode: unknown key",
        ])
    }

    func testEnvironmentCreatedDatabaseWithoutURL() {
        XCTAssertEqual(environmentRefusals(["SLUICE_DATABASES__app__POOL_SIZE": "3"]), [
            "environment: SLUICE_DATABASES__app__URL: required",
        ])
        XCTAssertEqual(environmentRefusals([:]), ["environment: databases: at least one database is required"])
        XCTAssertEqual(environmentRefusals(["SLUICE_DATABASES__sluice__URL": "postgresql://u@h/d"]), [
            #"environment: SLUICE_DATABASES__sluice__URL: database name "sluice" is reserved for the admin console"#,
        ])
    }

    func testCrossKeyErrorsPointAtTheVariableThatSetTheKey() {
        XCTAssertEqual(refusals("[sluice]\nmin_pool_size = 5\n" + minimalDatabase, environment: ["SLUICE_DEFAULT_POOL_SIZE": "4"]), [
            "sluice.toml: sluice.min_pool_size: must not exceed default_pool_size (4), got 5",
        ])
        XCTAssertEqual(refusals(minimalDatabase, environment: ["SLUICE_DATABASES__app__MIN_POOL_SIZE": "30"]), [
            "environment: SLUICE_DATABASES__app__MIN_POOL_SIZE: must not exceed default_pool_size (20), got 30",
        ])
    }

    func testFileAndEnvironmentErrorsAreReportedTogether() {
        XCTAssertEqual(refusals("[sluice]\nworkers = 0\n" + minimalDatabase, environment: ["SLUICE_POOL_MODE": "statement"]), [
            "sluice.toml: sluice.workers: must be between 1 and 64, got 0",
            #"environment: SLUICE_POOL_MODE: must be one of session, transaction, got "statement""#,
        ])
    }

    func testBadURLInTheEnvironmentHidesThePassword() {
        let errors = environmentRefusals(["SLUICE_DATABASES__app__URL": "postgresql://u:s3cr3t@/d"])
        XCTAssertEqual(errors, ["environment: SLUICE_DATABASES__app__URL: missing host"])
    }
}
