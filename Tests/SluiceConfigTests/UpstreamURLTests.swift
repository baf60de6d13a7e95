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

    func testMultipleHostsAndTargetSessionAttrs() throws {
        let url = try UpstreamURL.parse("postgresql://u:p@h1:5432,h2:5433,[::1]/db?target_session_attrs=read-write&load_balance_hosts=random")
        XCTAssertEqual(url.hosts, [UpstreamHost(host: "h1", port: 5432), UpstreamHost(host: "h2", port: 5433), UpstreamHost(host: "::1")])
        XCTAssertEqual(url.host, "h1")
        XCTAssertEqual(url.port, 5432)
        XCTAssertEqual(url.targetSessionAttrs, .readWrite)
        XCTAssertTrue(url.loadBalanceHosts)
        XCTAssertEqual(url.database, "db")
        XCTAssertEqual(url.parameters, [:], "the libpq keywords are not passed on as parameters")
        XCTAssertEqual(try UpstreamURL.parse(url.redacted).hosts, url.hosts, "redacted keeps every host")
        for attrs in TargetSessionAttrs.allCases {
            XCTAssertEqual(try UpstreamURL.parse("postgresql://u@h/d?target_session_attrs=\(attrs.rawValue)").targetSessionAttrs, attrs)
        }
        let query = try UpstreamURL.parse("postgresql://u@ignored/db?host=a,b&port=6000")
        XCTAssertEqual(query.hosts, [UpstreamHost(host: "a", port: 6000), UpstreamHost(host: "b", port: 6000)],
                       "query host and port override the URL's, one port for all hosts")
    }

    func testKeywordValueConnectionStrings() throws {
        let url = try UpstreamURL.parse("host=h1,h2 port=5432,5433 dbname=app user=app password='it\\'s x' sslmode=disable target_session_attrs=prefer-standby")
        XCTAssertEqual(url.hosts, [UpstreamHost(host: "h1", port: 5432), UpstreamHost(host: "h2", port: 5433)])
        XCTAssertEqual(url.user, "app")
        XCTAssertEqual(url.password, "it's x", "single-quoted, backslash escapes, as libpq")
        XCTAssertEqual(url.database, "app")
        XCTAssertEqual(url.sslMode, .disable)
        XCTAssertEqual(url.targetSessionAttrs, .preferStandby)
        let plain = try UpstreamURL.parse("  host = db.internal user=u  ")
        XCTAssertEqual(plain.hosts, [UpstreamHost(host: "db.internal", port: 5432)])
        XCTAssertEqual(plain.database, "u", "the user name when no dbname, as libpq")
    }

    func testRefusals() {
        let cases: [(String, String)] = [
            ("postgresql://u:p@/db", "missing host"),
            ("postgresql://u:p@:5432/db", "missing host"),
            ("postgresql://u:p@host:abc/db", "invalid port (expected a number from 1 to 65535)"),
            ("postgresql://u:p@host:0/db", "invalid port (expected a number from 1 to 65535)"),
            ("postgresql://u:p@host:/db", "invalid port (expected a number from 1 to 65535)"),
            ("mysql://u:p@host/db", #"unsupported scheme "mysql" (expected postgresql:// or postgres://)"#),
            ("just-a-host", "expected a URL starting with postgresql:// or postgres://, or host=… dbname=… keywords"),
            ("host=h1,h2,h3 port=1,2 user=u", "could not match 2 port numbers to 3 hosts"),
            ("host=h user", "invalid connection string: expected keyword=value"),
            ("host=h user='u", "unterminated quoted string in connection string"),
            ("host=/var/run/postgresql user=u", "Unix-domain socket hosts are not supported; use a TCP host"),
            ("postgresql://u@h/d?target_session_attrs=master", #"invalid target_session_attrs "master" (expected one of any, read-write, read-only, primary, standby, prefer-standby)"#),
            ("postgresql://u@h/d?load_balance_hosts=yes", #"invalid load_balance_hosts "yes" (expected disable or random)"#),
            ("postgresql://u@h1,,h2/db", "empty host in the host list"),
            ("postgresql://u:p%zz@host/db", "invalid percent-encoding in password"),
            ("postgresql://u:p%@host/db", "invalid percent-encoding in password"),
            ("postgresql://u%ff@host/db", "invalid percent-encoding in user name"),
            ("postgresql://u@host/d%2", "invalid percent-encoding in database name"),
            ("postgresql://host/db", "missing user name"),
            ("postgresql://u@::1/db", "IPv6 hosts must be in brackets, e.g. [::1]:5432"),
            ("postgresql://u@[::1/db", #"invalid IPv6 host: missing "]""#),
            ("postgresql://u@h/d?sslmode=always", #"invalid sslmode "always" (expected one of disable, allow, prefer, require, verify-ca, verify-full)"#),
            ("postgresql://u@h/d?sslmode", "invalid query parameter: expected key=value"),
            ("postgresql://u@h/d?hostaddr=10.0.0.1", #"parameter "hostaddr" is not supported; give the address as host"#),
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
