// ClientURLsTests: the per-client connection settings `sluice urls` prints.

import SluiceConfig
@testable import SluiceTools
import XCTest

final class ClientURLsTests: XCTestCase {
    private func config(_ toml: String) throws -> SluiceConfig {
        try ConfigLoader.parse(toml: toml, file: "test.toml", environment: [:])
    }

    func testPlainConfigGivesDisableAndHidesPasswords() throws {
        let loaded = try config("""
            [sluice]
            listen = "127.0.0.1:6432"
            [databases.app]
            url = "postgresql://app:s%40cret@db.internal:5432/app_prod"
            pool_size = 7
            """)
        let urls = ClientURLs(config: loaded)
        let app = try XCTUnwrap(urls.databases.first)
        XCTAssertEqual(app.sslMode, "disable")
        XCTAssertEqual(app.libpqURL, "postgresql://app:<password>@127.0.0.1:6432/app?sslmode=disable")
        XCTAssertEqual(app.jdbc, "jdbc:postgresql://127.0.0.1:6432/app?sslmode=disable&user=app&password=<password>")
        XCTAssertEqual(app.prisma, "postgresql://app:<password>@127.0.0.1:6432/app?sslmode=disable&connection_limit=7")
        XCTAssertEqual(app.nodePostgres,
                       "new pg.Pool({ connectionString: \"postgresql://app:<password>@127.0.0.1:6432/app?sslmode=disable\" })")
        XCTAssertTrue(app.django.disableServerSideCursors)
        XCTAssertFalse(app.prisma.contains("pgbouncer=true"))
    }

    func testShownPasswordsArePercentEncoded() throws {
        let loaded = try config("""
            [sluice]
            listen = "0.0.0.0:6432"
            pool_mode = "session"
            [databases.app]
            url = "postgresql://app:s%40cret@db.internal/app_prod"
            """)
        let urls = ClientURLs(config: loaded, host: "pooler.internal", showPasswords: true)
        let app = try XCTUnwrap(urls.databases.first)
        XCTAssertEqual(app.libpqURL, "postgresql://app:s%40cret@pooler.internal:6432/app?sslmode=disable")
        XCTAssertEqual(app.password, "s@cret")
        XCTAssertEqual(app.libpqDSN, "host=pooler.internal port=6432 dbname=app user=app password=s@cret sslmode=disable")
        XCTAssertEqual(app.sqlalchemyAsyncpg, "postgresql+asyncpg://app:s%40cret@pooler.internal:6432/app?ssl=disable")
        XCTAssertFalse(app.django.disableServerSideCursors, "session mode keeps server-side cursors")
    }

    func testClientTLSGivesRequire() throws {
        let loaded = try config("""
            [sluice]
            listen = "[::1]:7000"
            client_tls = "require"
            client_tls_cert = "/tls/server.crt"
            client_tls_key = "/tls/server.key"
            [databases.app]
            url = "postgresql://app:pw@db/app"
            """)
        let app = try XCTUnwrap(ClientURLs(config: loaded).databases.first)
        XCTAssertEqual(app.sslMode, "require")
        XCTAssertEqual(app.libpqURL, "postgresql://app:<password>@[::1]:7000/app?sslmode=require")
        XCTAssertEqual(app.asyncpg.ssl, "require")
        // node-postgres: `no-verify` is libpq's `require` in every pg 8.x; its own `require` verifies the
        // certificate, and `uselibpqcompat` is unknown before pg 8.15 (Debian's node-pg is 8.8.0).
        XCTAssertEqual(app.nodePostgres,
                       "new pg.Pool({ connectionString: \"postgresql://app:<password>@[::1]:7000/app?sslmode=no-verify\" })")
        XCTAssertFalse(app.nodePostgres.contains("uselibpqcompat"))
        XCTAssertTrue(app.notes.contains { $0.contains("sslmode=no-verify") && $0.contains("sslrootcert") })
    }

    func testWildcardListenNotes() throws {
        let loaded = try config("""
            [sluice]
            listen = "*:6432"
            [databases.app]
            url = "postgresql://app:pw@db/app"
            """)
        let urls = ClientURLs(config: loaded)
        XCTAssertEqual(urls.host, "127.0.0.1")
        XCTAssertTrue(urls.notes.contains { $0.contains("--host") })
    }

    func testLibpqQuoting() {
        XCTAssertEqual(URLText.libpqValue("plain"), "plain")
        XCTAssertEqual(URLText.libpqValue("has space"), "'has space'")
        XCTAssertEqual(URLText.libpqValue("it's"), "'it\\'s'")
    }
}
