// AdminConsoleHandlerTests: parsing, unknown commands, privilege, several statements, one action per query.
@testable import SluiceCore
import SluiceAdmin
import XCTest

final class AdminConsoleHandlerTests: XCTestCase {
    func testCaseWhitespaceAndTrailingSemicolon() throws {
        for query in ["show version", "  SHOW   Version ;  ", "\tshow\nversion;", "SHOW VERSION;;"] {
            let table = try AdminConsoleHandler().table(query)
            XCTAssertEqual(table.rows, [["Sluice 0.1.0"]], query)
        }
    }

    func testUnknownCommand() throws {
        try assertRefused("SELECT 1", code: "42601", message: "unknown admin console command: SELECT 1")
        try assertRefused("show   nothing ", code: "42601", message: "unknown admin console command: show nothing")
        try assertRefused("SHOW", code: "42601", message: "unknown admin console command: SHOW")
    }

    func testStatsPrivilegeMayShow() throws {
        for command in ["POOLS", "CLIENTS", "SERVERS", "STATS", "DATABASES", "CONFIG", "LISTS", "VERSION", "LEAKS", "HELP"] {
            XCTAssertEqual(try AdminConsoleHandler().table("SHOW \(command)", privilege: .stats).tag, "SHOW")
        }
    }

    func testSeveralStatementsRunInOrder() throws {
        let reply = AdminConsoleHandler().execute(query: "SHOW VERSION; show lists ;PAUSE app", privilege: .admin,
                                                  snapshot: Fixtures.snapshot())
        XCTAssertEqual(reply.action, .pause("app"))
        let parts = try decodeReply(reply.bytes)
        XCTAssertEqual(parts.count, 3)
        guard case .table(let version) = parts[0], case .table(let lists) = parts[1], case .completed(let tag) = parts[2] else {
            return XCTFail("unexpected reply \(parts)")
        }
        XCTAssertEqual(version.columnNames, ["version"])
        XCTAssertEqual(lists.columnNames, ["list", "items"])
        XCTAssertEqual(tag, "PAUSE")
    }

    func testAnErrorStopsTheRest() throws {
        let reply = AdminConsoleHandler().execute(query: "SHOW VERSION; BOGUS; PAUSE", privilege: .admin,
                                                  snapshot: Fixtures.snapshot())
        XCTAssertNil(reply.action)
        let parts = try decodeReply(reply.bytes)
        XCTAssertEqual(parts.count, 2)
        guard case .table = parts[0], case .error(let error) = parts[1] else { return XCTFail("unexpected reply \(parts)") }
        XCTAssertEqual(error.code, "42601")
        XCTAssertEqual(error.message, "unknown admin console command: BOGUS")
    }

    func testOneActionPerQuery() throws {
        let reply = AdminConsoleHandler().execute(query: "PAUSE; RESUME", privilege: .admin, snapshot: Fixtures.snapshot())
        XCTAssertEqual(reply.action, .pause(nil))
        let parts = try decodeReply(reply.bytes)
        guard parts.count == 2, case .completed("PAUSE") = parts[0], case .error(let error) = parts[1] else {
            return XCTFail("unexpected reply \(parts)")
        }
        XCTAssertEqual(error.code, "0A000")
    }

    func testEmptyQuery() throws {
        for query in ["", "  ", ";", " ; ;"] {
            let reply = AdminConsoleHandler().execute(query: query, privilege: .stats, snapshot: Fixtures.snapshot())
            let parts = try decodeReply(reply.bytes)
            guard parts.count == 1, case .emptyQuery = parts[0] else { return XCTFail("\(query): \(parts)") }
        }
    }

    func testNoReadyForQueryInTheReply() throws {
        let reply = AdminConsoleHandler().execute(query: "SHOW POOLS", privilege: .admin, snapshot: Fixtures.snapshot())
        XCTAssertNotEqual(reply.bytes.first, UInt8(ascii: "Z"))
        XCTAssertFalse(try decodeReply(reply.bytes).isEmpty)
    }
}
