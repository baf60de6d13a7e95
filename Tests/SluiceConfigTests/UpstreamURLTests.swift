// UpstreamURLTests: libpq-style connection URLs, as pasted from Neon and others.

import SluiceConfig
import XCTest

final class UpstreamURLTests: XCTestCase {
    func testNeonURL() throws {
        let url = try UpstreamURL.parse(
            "postgresql://alex:AbC123@ep-cool-darkness-123456.us-east-2.aws.neon.tech/dbname?sslmode=require&options=endpoint%3Dep-cool-darkness-123456")
        XCTAssertEqual(url.host, "ep-cool-darkness-123456.us-east-2.aws.neon.tech")
        XCTAssertEqual(url.port, 5432)
        XCTAssertEqual(url.user, "alex")
        XCTAssertEqual(url.password, "AbC123")
        XCTAssertEqual(url.database, "dbname")
        XCTAssertEqual(url.sslMode, .require)
        XCTAssertEqual(url.options, "endpoint=ep-cool-darkness-123456")
        XCTAssertEqual(url.parameters, [:])
    }

    func testIPv6HostWithPort() throws {
        let url = try UpstreamURL.parse("postgresql://u:p@[::1]:5433/db")
        XCTAssertEqual(url, UpstreamURL(host: "::1", port: 5433, user: "u", password: "p", database: "db"))
        XCTAssertEqual(try UpstreamURL.parse("postgres://u@[2001:db8::5]/db").host, "2001:db8::5")
    }

    func testDefaults() throws {
        let url = try UpstreamURL.parse("postgres://app@db.internal")
        XCTAssertEqual(url.port, 5432)
        XCTAssertNil(url.password)
        XCTAssertEqual(url.database, "app", "no path: the database is named after the user, as in libpq")
        XCTAssertEqual(url.sslMode, .prefer)
        XCTAssertNil(url.options)
        XCTAssertEqual(try UpstreamURL.parse("postgresql://app@db.internal:6000/").database, "app")
    }

    func testPercentEncodedPasswordWithAtSignAndColon() throws {
        let url = try UpstreamURL.parse("postgresql://us%40er:p%40ss%3Aw%2Frd@host/my%20db")
        XCTAssertEqual(url.user, "us@er")
        XCTAssertEqual(url.password, "p@ss:w/rd")
        XCTAssertEqual(url.database, "my db")
        XCTAssertEqual(url.host, "host")
    }

    func testUnencodedAtSignInPasswordSplitsAtTheLastOne() throws {
        let url = try UpstreamURL.parse("postgresql://u:p@ss@host/db")
        XCTAssertEqual(url.password, "p@ss")
        XCTAssertEqual(url.host, "host")
    }

    func testOtherParametersAreKept() throws {
        let url = try UpstreamURL.parse(
            "postgresql://u@h/d?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Fca.pem&channel_binding=require&application_name=my%20app&options=-c%20search_path%3Dx")
        XCTAssertEqual(url.sslMode, .verifyFull)
        XCTAssertEqual(url.options, "-c search_path=x")
        XCTAssertEqual(url.parameters, [
            "sslrootcert": "/etc/ssl/ca.pem", "channel_binding": "require", "application_name": "my app",
        ])
    }

    func testQueryUserPasswordAndDatabaseOverrideTheURL() throws {
        let url = try UpstreamURL.parse("postgresql://h/?user=u&password=p%26q&dbname=d")
        XCTAssertEqual(url, UpstreamURL(host: "h", user: "u", password: "p&q", database: "d"))
    }

    func testRefusals() {
        let cases: [(String, String)] = [
            ("postgresql://u:p@/db", "missing host"),
            ("postgresql://u:p@:5432/db", "missing host"),
            ("postgresql://u:p@host:abc/db", "invalid port (expected a number from 1 to 65535)"),
            ("postgresql://u:p@host:0/db", "invalid port (expected a number from 1 to 65535)"),
            ("postgresql://u:p@host:/db", "invalid port (expected a number from 1 to 65535)"),
            ("mysql://u:p@host/db", #"unsupported scheme "mysql" (expected postgresql:// or postgres://)"#),
            ("host=h user=u password=p", "expected a URL starting with postgresql:// or postgres://"),
            ("postgresql://u:p%zz@host/db", "invalid percent-encoding in password"),
            ("postgresql://u:p%@host/db", "invalid percent-encoding in password"),
            ("postgresql://u%ff@host/db", "invalid percent-encoding in user name"),
            ("postgresql://u@host/d%2", "invalid percent-encoding in database name"),
            ("postgresql://host/db", "missing user name"),
            ("postgresql://u@h1,h2/db", "multiple hosts are not supported"),
            ("postgresql://u@::1/db", "IPv6 hosts must be in brackets, e.g. [::1]:5432"),
            ("postgresql://u@[::1/db", #"invalid IPv6 host: missing "]""#),
            ("postgresql://u@h/d?sslmode=always", #"invalid sslmode "always" (expected one of disable, allow, prefer, require, verify-ca, verify-full)"#),
            ("postgresql://u@h/d?sslmode", "invalid query parameter: expected key=value"),
            ("postgresql://u@h/d?port=5", #"query parameter "port" is not supported; put the host and port in the URL"#),
        ]
        for (text, reason) in cases {
            XCTAssertThrowsError(try UpstreamURL.parse(text), text) { error in
                XCTAssertEqual((error as? UpstreamURLError)?.reason, reason, text)
            }
        }
    }

    func testRedactedHidesThePassword() throws {
        let url = try UpstreamURL.parse("postgresql://alex:AbC123@ep-x.neon.tech/dbname?sslmode=require&options=endpoint%3Dep-x&sslpassword=k3y")
        XCTAssertEqual(url.redacted, "postgresql://alex:***@ep-x.neon.tech:5432/dbname?sslmode=require&options=endpoint%3Dep-x&sslpassword=***")
        XCTAssertEqual(url.description, url.redacted)
        XCTAssertFalse("\(url) \(String(reflecting: url))".contains("AbC123"))
        XCTAssertEqual(try UpstreamURL.parse("postgresql://u@[::1]/d").redacted, "postgresql://u@[::1]:5432/d?sslmode=prefer")
    }

    func testRedactedParsesBackToTheSameURLButThePassword() throws {
        var url = try UpstreamURL.parse("postgresql://a%40b:pw@h:6543/my%2Fdb?sslmode=disable&application_name=x%26y")
        let reparsed = try UpstreamURL.parse(url.redacted)
        url.password = "***"
        XCTAssertEqual(reparsed, url)
    }
}
