// ConfigLoaderTests: a full file, and each kind of refusal with its exact `FILE: key: reason`.

import Foundation
import SluiceConfig
import XCTest

final class ConfigLoaderTests: XCTestCase {
    func testFullFile() throws {
        let config = try XCTUnwrap(parsed("""
            [sluice]
            listen = ["0.0.0.0:6432", "[::]:6432"]
            pool_mode = "session"
            max_client_conn = 200
            default_pool_size = 10
            min_pool_size = 2
            server_reset_query = "RESET ALL"
            client_auth = "md5"
            max_packet_size = 1048576
            client_login_timeout = 5
            query_wait_timeout = 2.5
            server_connect_timeout = 3
            server_login_retry = 0.5
            server_lifetime = 1800
            server_idle_timeout = 0
            shutdown_timeout = 10
            workers = 2
            log_level = "debug"
            admin_listen = "127.0.0.1:9187"
            metrics_application_limit = 5

            [databases.app]
            url = "postgresql://app:secret@ep-cool-name-123.us-east-2.aws.neon.tech/app?sslmode=verify-full"
            pool_size = 20
            min_pool_size = 1
            pool_mode = "transaction"

            [databases.reports]
            url = "postgres://reader@10.0.0.5:5433/reports"

            [users.alice]
            password = "md5a3556571e93b0d20722ba62be61e8c2d"
            """))
        XCTAssertEqual(config.listen, [ListenAddress(host: "0.0.0.0", port: 6432), ListenAddress(host: "::", port: 6432)])
        XCTAssertEqual(config.poolMode, .session)
        XCTAssertEqual(config.maxClientConn, 200)
        XCTAssertEqual(config.metricsApplicationLimit, 5)
        XCTAssertEqual(config.defaultPoolSize, 10)
        XCTAssertEqual(config.minPoolSize, 2)
        XCTAssertEqual(config.serverResetQuery, "RESET ALL")
        XCTAssertEqual(config.clientAuth, .md5)
        XCTAssertEqual(config.maxPacketSize, 1_048_576)
        XCTAssertEqual(config.clientLoginTimeout, 5)
        XCTAssertEqual(config.queryWaitTimeout, 2.5)
        XCTAssertEqual(config.serverConnectTimeout, 3)
        XCTAssertEqual(config.serverLoginRetry, 0.5)
        XCTAssertEqual(config.serverLifetime, 1800)
        XCTAssertEqual(config.serverIdleTimeout, 0)
        XCTAssertEqual(config.shutdownTimeout, 10)
        XCTAssertEqual(config.workers, 2)
        XCTAssertEqual(config.logLevel, .debug)
        XCTAssertEqual(config.adminListen, ListenAddress(host: "127.0.0.1", port: 9187))

        XCTAssertEqual(config.databases.keys.sorted(), ["app", "reports"])
        let app = try XCTUnwrap(config.databases["app"])
        XCTAssertEqual(app.name, "app")
        XCTAssertEqual(app.url.host, "ep-cool-name-123.us-east-2.aws.neon.tech")
        XCTAssertEqual(app.url.sslMode, .verifyFull)
        XCTAssertEqual(app.poolSize, 20)
        XCTAssertEqual(app.minPoolSize, 1)
        XCTAssertEqual(app.poolMode, .transaction)
        let reports = try XCTUnwrap(config.databases["reports"])
        XCTAssertEqual(reports.url, UpstreamURL(host: "10.0.0.5", port: 5433, user: "reader", database: "reports"))
        XCTAssertNil(reports.poolSize)
        XCTAssertEqual(config.poolSize(for: reports), 10)
        XCTAssertEqual(config.poolMode(for: reports), .session)

        XCTAssertEqual(config.users, ["alice": UserConfig(name: "alice", password: "md5a3556571e93b0d20722ba62be61e8c2d")])
    }

    func testLoadReadsTheFileAndRecordsItsPath() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID()).toml").path
        try "[sluice]\nworkers = 3\n\(minimalDatabase)\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try ConfigLoader.load(path: path, environment: ["SLUICE_POOL_MODE": "session"])
        XCTAssertEqual(config.workers, 3)
        XCTAssertEqual(config.poolMode, .session)
        XCTAssertEqual(config.sourcePath, path)
    }

    func testAuthFileAddsUsersRelativeToTheConfigFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let verifier = "SCRAM-SHA-256$4096:c2FsdHNhbHQ=$c3RvcmVka2V5c3RvcmVka2V5c3RvcmVka2V5c3RvcmVrZXk=:c2VydmVya2V5c2VydmVya2V5c2VydmVya2V5c2VydmU="
        try "\"alice\" \"from-file\"\n\"bob\" \"\(verifier)\"\n; comment\n\"carol\" \"file-pw\"\n\"dave\" \"\"\n"
            .write(to: directory.appendingPathComponent("userlist.txt"), atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("sluice.toml").path
        try """
            [sluice]
            auth_file = "userlist.txt"
            [users.alice]
            password = "from-toml"
            [users.carol]
            max_user_client_connections = 3
            \(minimalDatabase)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(path: path, environment: [:])
        XCTAssertEqual(config.users["alice"]?.password, "from-toml", "[users.NAME] wins")
        XCTAssertEqual(config.users["bob"]?.password, verifier)
        XCTAssertEqual(config.users["carol"]?.password, "file-pw", "a table for limits only takes the file's password")
        XCTAssertEqual(config.users["carol"]?.maxUserClientConnections, 3)
        XCTAssertNil(config.users["dave"], "an empty password is no login")
        try "[sluice]\nauth_file = \"missing.txt\"\n\(minimalDatabase)\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ConfigLoader.load(path: path, environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("sluice.auth_file: cannot read \(directory.path)/missing.txt"), "\(error)")
        }
        try "\"eve\" \"SCRAM-SHA-256$bad\"\n".write(to: directory.appendingPathComponent("missing.txt"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ConfigLoader.load(path: path, environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("user \"eve\" has a malformed SCRAM-SHA-256 verifier"), "\(error)")
            XCTAssertFalse("\(error)".contains("SCRAM-SHA-256$bad"), "the secret is not echoed")
        }
    }

    func testUnreadableFile() {
        XCTAssertThrowsError(try ConfigLoader.load(path: "/nonexistent/sluice.toml", environment: [:])) { error in
            XCTAssertEqual((error as? ConfigErrors)?.description,
                           "/nonexistent/sluice.toml: (file): cannot open: No such file or directory")
        }
    }

    func testSyntaxErrorIsOneErrorWithItsPosition() {
        XCTAssertEqual(refusals("[sluice]\nworkers = \n"), [
            #"sluice.toml: (syntax): Error while parsing key-value pair: expected value, saw '\n' (at line 2, column 11)"#,
        ])
    }

    func testUnknownKeysAnywhere() {
        XCTAssertEqual(refusals("""
            [sluice]
            bogus_key = 1
            [pools]
            x = 1
            [databases.app]
            url = "postgresql://u@h/d"
            pool_sizee = 3
            [users.bob]
            password = "pw"
            role = "admin"
            """), [
                "sluice.toml: databases.app.pool_sizee: unknown key",
                "sluice.toml: pools: unknown key",
                "sluice.toml: sluice.bogus_key: unknown key",
                "sluice.toml: users.bob.role: unknown key",
            ])
    }

    func testWrongTypes() {
        XCTAssertEqual(refusals("""
            sluice = 3
            [databases]
            app = "postgresql://u@h/d"
            """), [
                "sluice.toml: databases.app: expected a table, got string",
                "sluice.toml: sluice: expected a table, got integer",
                "sluice.toml: databases: at least one database is required",
            ])
        XCTAssertEqual(refusals("""
            [sluice]
            max_client_conn = "100"
            pool_mode = 1
            server_lifetime = true
            workers = 1.5
            server_reset_query = 2024-01-01
            \(minimalDatabase)
            """), [
                "sluice.toml: sluice.max_client_conn: expected an integer, got string",
                "sluice.toml: sluice.pool_mode: expected a string, got integer",
                "sluice.toml: sluice.server_lifetime: expected a number of seconds, got boolean",
                "sluice.toml: sluice.server_reset_query: expected a string, got date",
                "sluice.toml: sluice.workers: expected an integer, got float",
            ])
    }

    func testOutOfRangeAndUnknownWords() {
        XCTAssertEqual(refusals("""
            [sluice]
            default_pool_size = 0
            max_client_conn = 0
            max_packet_size = 100
            server_connect_timeout = 0
            query_wait_timeout = -1
            workers = 65
            metrics_application_limit = 201
            log_level = "verbose"
            client_auth = "password"
            [databases.app]
            url = "postgresql://u@h/d"
            pool_size = 10001
            pool_mode = "statement"
            """), [
                "sluice.toml: databases.app.pool_mode: must be one of session, transaction, got \"statement\"",
                "sluice.toml: databases.app.pool_size: must be between 1 and 10000, got 10001",
                "sluice.toml: sluice.client_auth: must be one of scram-sha-256, md5, got \"password\"",
                "sluice.toml: sluice.default_pool_size: must be between 1 and 10000, got 0",
                "sluice.toml: sluice.log_level: must be one of trace, debug, info, notice, warning, error, critical, got \"verbose\"",
                "sluice.toml: sluice.max_client_conn: must be at least 1, got 0",
                "sluice.toml: sluice.max_packet_size: must be between 1024 and 1073741824, got 100",
                "sluice.toml: sluice.metrics_application_limit: must be between 0 and 200, got 201",
                "sluice.toml: sluice.query_wait_timeout: must be between 0 and 86400, got -1",
                "sluice.toml: sluice.server_connect_timeout: must be between 0.1 and 3600, got 0",
                "sluice.toml: sluice.workers: must be between 1 and 64, got 65",
            ])
    }

    func testWordsAreCaseInsensitive() {
        XCTAssertEqual(parsed("[sluice]\npool_mode = \"Session\"\nclient_auth = \"MD5\"\n" + minimalDatabase)?.clientAuth, .md5)
    }

    func testDatabaseURLProblems() {
        XCTAssertEqual(refusals("""
            [databases.app]
            url = "mysql://u:secret@h/d"
            [databases.billing]
            pool_size = 5
            [databases.crm]
            url = "postgresql://u:secret@h:99999/d"
            """), [
                #"sluice.toml: databases.app.url: unsupported scheme "mysql" (expected postgresql:// or postgres://)"#,
                "sluice.toml: databases.crm.url: invalid port (expected a number from 1 to 65535)",
                "sluice.toml: databases.billing.url: required",
            ])
    }

    func testNoDatabases() {
        XCTAssertEqual(refusals("[sluice]\nworkers = 2\n"), ["sluice.toml: databases: at least one database is required"])
        XCTAssertEqual(refusals(""), ["sluice.toml: databases: at least one database is required"])
    }

    func testDatabaseNames() {
        let long = String(repeating: "x", count: 64)
        XCTAssertNotNil(parsed("[databases.\(String(repeating: "x", count: 63))]\nurl = \"postgresql://u@h/d\"\n"))
        XCTAssertEqual(refusals("""
            [databases.sluice]
            url = "postgresql://u@h/d"
            [databases.pgbouncer]
            url = "postgresql://u@h/d"
            [databases.\(long)]
            url = "postgresql://u@h/d"
            """), [
                #"sluice.toml: databases.pgbouncer: database name "pgbouncer" is reserved for the admin console"#,
                #"sluice.toml: databases.sluice: database name "sluice" is reserved for the admin console"#,
                "sluice.toml: databases.\(long): database name must be 1 to 63 characters long",
            ])
    }

    func testMinPoolSizeCannotExceedPoolSize() {
        XCTAssertEqual(refusals("""
            [sluice]
            min_pool_size = 30
            [databases.app]
            url = "postgresql://u@h/d"
            pool_size = 5
            min_pool_size = 6
            """), [
                "sluice.toml: sluice.min_pool_size: must not exceed default_pool_size (20), got 30",
                "sluice.toml: databases.app.min_pool_size: must not exceed pool_size (5), got 6",
            ])
    }

    func testSeveralErrorsAreReportedAtOnce() {
        let errors = refusals("""
            [sluice]
            pool_mode = "sesion"
            workers = 0
            colour = "blue"
            [databases.app]
            pool_size = "big"
            """)
        XCTAssertEqual(errors, [
            "sluice.toml: databases.app.pool_size: expected an integer, got string",
            "sluice.toml: sluice.colour: unknown key",
            #"sluice.toml: sluice.pool_mode: must be one of session, transaction, got "sesion""#,
            "sluice.toml: sluice.workers: must be between 1 and 64, got 0",
            "sluice.toml: databases.app.url: required",
        ])
        do {
            _ = try ConfigLoader.parse(toml: "[sluice]\nworkers = 0\ncolour = 1\n", file: "f.toml", environment: [:])
            XCTFail("expected errors")
        } catch {
            XCTAssertEqual(error.description, """
                f.toml: sluice.colour: unknown key
                f.toml: sluice.workers: must be between 1 and 64, got 0
                f.toml: databases: at least one database is required
                """)
        }
    }

    func testErrorsNeverHoldPasswords() {
        let errors = refusals("""
            [databases.app]
            url = "postgresql://u:hunter2@h:port/d"
            [databases.b]
            url = "postgresql://u:hunter2%zz@h/d"
            [databases.c]
            url = "postgresql://u:hun/ter2@h/d"
            [users.eve]
            password = "SCRAM-SHA-256$hunter2"
            """)
        XCTAssertEqual(errors.count, 4)
        for error in errors { XCTAssertFalse(error.contains("hunter2") || error.contains("ter2"), error) }
    }
}
