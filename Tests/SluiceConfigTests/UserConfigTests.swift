// UserConfigTests: `[users.NAME]` passwords in their three PostgreSQL forms.

import SluiceConfig
import XCTest

final class UserConfigTests: XCTestCase {
    private let verifier =
        "SCRAM-SHA-256$4096:c2FsdHNhbHQ=$nQ3K1Yy7+h0sJ2S+ZUs4GbDcgbUNwj5XvGjP0ntXbd4=:w8M/h+7sV1dh0Rn8yUQS0vXgyCgQmUrkOlnHnBmEjps="

    func testPasswordKinds() {
        XCTAssertEqual(UserConfig(name: "a", password: "hunter2").passwordKind, .plaintext)
        XCTAssertEqual(UserConfig(name: "a", password: "md5a3556571e93b0d20722ba62be61e8c2d").passwordKind, .md5Hash)
        XCTAssertEqual(UserConfig(name: "a", password: "md5short").passwordKind, .plaintext)
        XCTAssertEqual(UserConfig(name: "a", password: verifier).passwordKind, .scramSHA256Verifier)
    }

    func testUsersTable() throws {
        let config = try XCTUnwrap(parsed("""
            \(minimalDatabase)
            [users.alice]
            password = "\(verifier)"
            [users.bob]
            password = "plain"
            """))
        XCTAssertEqual(config.users["alice"]?.passwordKind, .scramSHA256Verifier)
        XCTAssertEqual(config.users["bob"], UserConfig(name: "bob", password: "plain"))
    }

    func testUserWithOnlyLimits() throws {
        // No password: the table only sets limits for a database URL's user of that name.
        let config = try XCTUnwrap(parsed("""
            \(minimalDatabase)
            [users.app]
            max_user_client_connections = 7
            max_user_connections = 3
            """))
        XCTAssertEqual(config.users["app"]?.password, "")
        XCTAssertEqual(config.maxUserClientConnections(for: "app"), 7)
        XCTAssertEqual(config.maxUserConnections(for: "app"), 3)
        XCTAssertEqual(config.maxUserClientConnections(for: "other"), 0)
    }

    func testPasswordProblems() {
        XCTAssertEqual(refusals("""
            \(minimalDatabase)
            [users.a]
            password = ""
            [users.b]
            password = "SCRAM-SHA-256$4096:salt"
            [users.d]
            password = "md5a3556571e93b0d20722ba62be61e8c2d"
            """), [
                "sluice.toml: users.a.password: must not be empty",
                "sluice.toml: users.b.password: malformed SCRAM-SHA-256 verifier (expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)",
                "sluice.toml: users.d.password: an md5 hash cannot be used with client_auth = scram-sha-256; give the plaintext password or a SCRAM-SHA-256 verifier",
            ])
    }

    func testPrintingAUserHidesThePassword() {
        let user = UserConfig(name: "alice", password: "s3cret")
        XCTAssertEqual("\(user)", "UserConfig(name: alice, password: ***)")
        XCTAssertFalse(String(reflecting: [user]).contains("s3cret"))
    }
}
