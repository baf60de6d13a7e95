// Tests for SetStatement: which simple queries count as session-setting changes.
import XCTest
@testable import SluiceCore

final class SetStatementTests: XCTestCase {
    func testSetForms() {
        XCTAssertEqual(SetStatement.parse("SET search_path = bar, public"),
                       .set(name: "search_path", sql: "SET search_path = bar, public"))
        XCTAssertEqual(SetStatement.parse("  set SESSION statement_timeout TO '5s';  "),
                       .set(name: "statement_timeout", sql: "set SESSION statement_timeout TO '5s'"))
        XCTAssertEqual(SetStatement.parse("SET \"Weird\" TO 1"), .set(name: "Weird", sql: "SET \"Weird\" TO 1"))
        XCTAssertEqual(SetStatement.parse("set myapp.tenant = '42'"), .set(name: "myapp.tenant", sql: "set myapp.tenant = '42'"))
        XCTAssertEqual(SetStatement.parse("SET TIME ZONE 'UTC'"), .set(name: "timezone", sql: "SET TIME ZONE 'UTC'"))
        XCTAssertEqual(SetStatement.parse("SET SCHEMA 'x'"), .set(name: "search_path", sql: "SET SCHEMA 'x'"))
        XCTAssertEqual(SetStatement.parse("SET work_mem TO DEFAULT"), .reset(name: "work_mem"))
    }

    func testResetForms() {
        XCTAssertEqual(SetStatement.parse("RESET search_path"), .reset(name: "search_path"))
        XCTAssertEqual(SetStatement.parse("reset all;"), .resetAll)
        XCTAssertEqual(SetStatement.parse("DISCARD ALL"), .resetAll)
    }

    func testNotTracked() {
        XCTAssertNil(SetStatement.parse("SET LOCAL work_mem = '1MB'"))
        XCTAssertNil(SetStatement.parse("SET work_mem = '1MB'; SELECT 1"))
        XCTAssertNil(SetStatement.parse("SET ROLE admin"))
        XCTAssertNil(SetStatement.parse("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
        XCTAssertNil(SetStatement.parse("SET SESSION AUTHORIZATION bob"))
        XCTAssertNil(SetStatement.parse("select 1"))
        XCTAssertNil(SetStatement.parse("SET x = 1 -- comment"))
        XCTAssertNil(SetStatement.parse("DISCARD PLANS"))
        XCTAssertNil(SetStatement.parse(""))
    }

    func testSessionParametersFollowSetAndReset() {
        var wanted = try! SessionParameters.fromStartup([("search_path", "foo")])
        wanted.apply(.set(name: "search_path", sql: "SET search_path = bar"))
        XCTAssertNil(wanted.values["search_path"])
        XCTAssertEqual(wanted.statements["search_path"], "SET search_path = bar")
        wanted.apply(.reset(name: "search_path"))
        XCTAssertEqual(wanted.values["search_path"], "foo", "RESET returns to the startup value")
        wanted.apply(.set(name: "work_mem", sql: "SET work_mem = '8MB'"))
        wanted.apply(.resetAll)
        XCTAssertTrue(wanted.statements.isEmpty)
        XCTAssertEqual(wanted.values, ["search_path": "foo"])
    }

    func testAlignmentReplaysStatementsAndResetsOthers() {
        var server = ServerParameterState()
        var a = SessionParameters()
        a.apply(.set(name: "search_path", sql: "SET search_path = bar, public"))
        let first = server.alignment(to: a)!
        XCTAssertEqual(first.sql, "SET search_path = bar, public;")
        server.aligned(set: first.set, reset: first.reset, replay: first.replay)
        XCTAssertNil(server.alignment(to: a))
        let second = server.alignment(to: SessionParameters())!
        XCTAssertEqual(second.sql, "RESET \"search_path\";")
    }
}
