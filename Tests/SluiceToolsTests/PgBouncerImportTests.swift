// PgBouncerImportTests: pgbouncer.ini + userlist.txt → Sluice TOML, and the list of what was left behind.

import SluiceConfig
@testable import SluiceTools
import XCTest

final class PgBouncerImportTests: XCTestCase {
    private let ini = """
        ;; PgBouncer configuration
        [databases]
        app = host=db.internal port=5433 dbname=app_prod user=app pool_size=30
        reports = host=db.internal dbname=reports user=reporter pool_mode=session client_encoding=UTF8 timezone=UTC
        legacy = host=/var/run/postgresql dbname=legacy user=app reserve_pool=5
        * = host=db.internal

        [pgbouncer]
        listen_addr = 0.0.0.0
        listen_port = 6433
        auth_type = scram-sha-256
        auth_file = /etc/pgbouncer/userlist.txt
        pool_mode = transaction
        max_client_conn = 2000
        default_pool_size = 25
        server_idle_timeout = 120
        server_tls_sslmode = verify-full
        server_tls_ca_file = /etc/ssl/certs/ca.pem
        ignore_startup_parameters = extra_float_digits
        admin_users = admin, ops
        verbose = 1
        so_reuseport = 1
        frobnicate = yes

        [users]
        reporter = pool_mode=session
        """

    private let userlist = """
        "app" "app-secret"
        "reporter" "SCRAM-SHA-256$4096:c2FsdHNhbHQ=$c3RvcmVka2V5c3RvcmVka2V5c3RvcmVka2V5c3RvcmVrZXk=:c2VydmVya2V5c2VydmVya2V5c2VydmVya2V5c2VydmU="
        "admin" "admin-pw"
        "old" "md5d41d8cd98f00b204e9800998ecf8427e"
        """

    func testRealisticConfigConverts() throws {
        let result = PgBouncerImport.convert(ini: PgBouncerINI.parse(ini, file: "pgbouncer.ini"),
                                             userlist: PgBouncerUserlist.parse(userlist), source: "pgbouncer.ini")
        XCTAssertEqual(result.validationErrors, [], result.toml)
        let config = try ConfigLoader.parse(toml: result.toml, file: "out.toml", environment: [:])
        XCTAssertEqual(config.listen, [ListenAddress(host: "0.0.0.0", port: 6433)])
        XCTAssertEqual(config.poolMode, .transaction)
        XCTAssertEqual(config.maxClientConn, 2000)
        XCTAssertEqual(config.defaultPoolSize, 25)
        XCTAssertEqual(config.serverIdleTimeout, 120)
        XCTAssertEqual(config.clientAuth, .scramSHA256)
        XCTAssertEqual(config.adminUsers, ["admin", "ops"])
        XCTAssertEqual(config.logLevel, .debug)

        let app = try XCTUnwrap(config.databases["app"])
        XCTAssertEqual(app.url.host, "db.internal")
        XCTAssertEqual(app.url.port, 5433)
        XCTAssertEqual(app.url.database, "app_prod")
        XCTAssertEqual(app.url.password, "app-secret")
        XCTAssertEqual(app.url.sslMode, .verifyFull)
        XCTAssertEqual(app.url.parameters["sslrootcert"], "/etc/ssl/certs/ca.pem")
        XCTAssertEqual(app.poolSize, 30)

        let reports = try XCTUnwrap(config.databases["reports"])
        XCTAssertNil(reports.url.password, "a SCRAM verifier cannot log in upstream")
        XCTAssertEqual(reports.url.options, "-c client_encoding=UTF8 -c TimeZone=UTC")
        XCTAssertEqual(reports.poolMode, .session)
        XCTAssertEqual(config.users["reporter"]?.passwordKind, .scramSHA256Verifier)
        XCTAssertEqual(config.users["admin"]?.password, "admin-pw")
        XCTAssertNil(config.users["old"], "md5 verifiers cannot check scram-sha-256 logins")
        XCTAssertNil(config.databases["*"])

        XCTAssertTrue(result.toFill.contains { $0.contains("databases.reports.url") && $0.contains("verifier") })
        XCTAssertTrue(result.toFill.contains { $0.contains("databases.legacy.url") && $0.contains("Unix socket") })
        let skippedKeys = Set(result.skipped.map(\.key))
        for key in ["ignore_startup_parameters", "so_reuseport", "frobnicate", "databases.*", "databases.legacy.reserve_pool",
                    "reporter", "users.old"] {
            XCTAssertTrue(skippedKeys.contains(key), "\(key) not reported in \(skippedKeys.sorted())")
        }
        XCTAssertTrue(result.skipped.first { $0.key == "frobnicate" }!.reason.contains("unknown"))
        XCTAssertTrue(result.skipped.first { $0.key == "ignore_startup_parameters" }!.reason.contains("every startup parameter"))
    }

    func testPgBouncerDefaultsAreWrittenOut() throws {
        let result = PgBouncerImport.convert(
            ini: PgBouncerINI.parse("[databases]\napp = host=127.0.0.1 user=app password='it''s'\n[pgbouncer]\n", file: "p.ini"),
            userlist: nil, source: "p.ini")
        XCTAssertEqual(result.validationErrors, [], result.toml)
        let config = try ConfigLoader.parse(toml: result.toml, file: "out.toml", environment: [:])
        XCTAssertEqual(config.poolMode, .session, "PgBouncer's default pool_mode is session")
        XCTAssertEqual(config.maxClientConn, 100)
        XCTAssertEqual(config.serverIdleTimeout, 600)
        XCTAssertEqual(config.clientAuth, .md5)
        XCTAssertEqual(config.listen, [ListenAddress(host: "127.0.0.1", port: 6432)])
        XCTAssertEqual(config.databases["app"]?.url.password, "it's")
        XCTAssertEqual(config.databases["app"]?.url.database, "app")
    }

    func testServerResetQueryAlwaysCarriesOver() throws {
        for (value, expected) in [("1", true), ("0", false), ("yes", true)] {
            let result = PgBouncerImport.convert(
                ini: PgBouncerINI.parse("[databases]\napp = host=127.0.0.1 user=app\n[pgbouncer]\nserver_reset_query_always = \(value)\n",
                                        file: "p.ini"),
                userlist: nil, source: "p.ini")
            XCTAssertEqual(result.validationErrors, [], result.toml)
            let config = try ConfigLoader.parse(toml: result.toml, file: "out.toml", environment: [:])
            XCTAssertEqual(config.serverResetQueryAlways, expected, value)
        }
        let bad = PgBouncerImport.convert(
            ini: PgBouncerINI.parse("[databases]\napp = host=127.0.0.1 user=app\n[pgbouncer]\nserver_reset_query_always = maybe\n", file: "p.ini"),
            userlist: nil, source: "p.ini")
        XCTAssertTrue(bad.report.contains("server_reset_query_always"), bad.report)
    }

    func testClientTLSNeedsCertificate() throws {
        let ini = """
            [databases]
            app = host=db user=app password=x
            [pgbouncer]
            client_tls_sslmode = require
            statement_timeout = 5
            """
        let result = PgBouncerImport.convert(ini: PgBouncerINI.parse(ini, file: "p.ini"), userlist: nil, source: "p.ini")
        XCTAssertEqual(result.validationErrors, [])
        XCTAssertTrue(result.skipped.contains { $0.key == "client_tls_sslmode" })
        let config = try ConfigLoader.parse(toml: result.toml, file: "out.toml", environment: [:])
        XCTAssertNil(config.clientTLS, "TLS toward clients is left off without a certificate")
        XCTAssertTrue(result.skipped.contains { $0.key == "statement_timeout" && $0.reason.contains("unknown") })
    }

    func testVerifyFullClientTLS() throws {
        let ini = """
            [databases]
            app = host=db user=app password=x
            [pgbouncer]
            client_tls_sslmode = verify-full
            client_tls_cert_file = /tls/server.crt
            client_tls_key_file = /tls/server.key
            client_tls_ca_file = /tls/ca.crt
            """
        let result = PgBouncerImport.convert(ini: PgBouncerINI.parse(ini, file: "p.ini"), userlist: nil, source: "p.ini")
        XCTAssertEqual(result.validationErrors, [])
        let config = try ConfigLoader.parse(toml: result.toml, file: "out.toml", environment: [:])
        XCTAssertEqual(config.clientTLS, .require)
        XCTAssertEqual(config.clientTLSVerify, .verifyFull)
        XCTAssertEqual(config.clientTLSCA, "/tls/ca.crt")
    }
}
