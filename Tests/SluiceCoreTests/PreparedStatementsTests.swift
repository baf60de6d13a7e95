// Tests for the statement-mapping helpers: DEALLOCATE parsing, the LRU, the response slot queue.
import XCTest
@testable import SluiceCore

final class PreparedStatementsTests: XCTestCase {
    func testDeallocateForms() {
        XCTAssertEqual(Deallocate.parse("DEALLOCATE __asyncpg_stmt_1__"), .name("__asyncpg_stmt_1__"))
        XCTAssertEqual(Deallocate.parse("deallocate prepare \"_pg3_0\";"), .name("_pg3_0"))
        XCTAssertEqual(Deallocate.parse("DEALLOCATE ALL"), .all)
        XCTAssertEqual(Deallocate.parse("  deallocate   prepare all ; "), .all)
        XCTAssertNil(Deallocate.parse("DEALLOCATE x; SELECT 1"))
        XCTAssertNil(Deallocate.parse("DEALLOCATE"))
        XCTAssertNil(Deallocate.parse("select 'DEALLOCATE ALL'"))
    }

    func testLeastRecentlyUsedKeepsTheNameInUse() {
        var statements = ServerStatements()
        statements.touch("a")
        statements.touch("b")
        statements.touch("c")
        statements.touch("a")
        XCTAssertEqual(statements.leastRecentlyUsed(keeping: "x"), "b")
        XCTAssertEqual(statements.leastRecentlyUsed(keeping: "b"), "c")
        statements.remove("b")
        XCTAssertFalse(statements.contains("b"))
        XCTAssertEqual(statements.count, 2)
    }

    func testSlotQueueOrderAndReuse() {
        var queue = SlotQueue()
        XCTAssertTrue(queue.isEmpty)
        queue.append(.parse(serverName: "sluice_1", clientName: "s1"))
        queue.append(.bind)
        queue.append(.sync)
        XCTAssertEqual(queue.removeFirst(), .parse(serverName: "sluice_1", clientName: "s1"))
        XCTAssertEqual(queue.first, .bind)
        queue.removeFirst()
        queue.removeFirst()
        XCTAssertTrue(queue.isEmpty)
        queue.append(.query)
        XCTAssertEqual(queue.first, .query)
    }

    func testSlotCompletion() {
        XCTAssertTrue(ResponseSlot.hiddenParse(serverName: "x").isFinished(by: UInt8(ascii: "1")))
        XCTAssertTrue(ResponseSlot.describeStatement.isFinished(by: UInt8(ascii: "n")))
        XCTAssertFalse(ResponseSlot.describeStatement.isFinished(by: UInt8(ascii: "t")), "ParameterDescription comes first")
        XCTAssertTrue(ResponseSlot.execute.isFinished(by: UInt8(ascii: "s")))
        XCTAssertFalse(ResponseSlot.query.isFinished(by: UInt8(ascii: "C")), "a simple query ends at ReadyForQuery")
        XCTAssertTrue(ResponseSlot.syntheticDeallocate.isSynthetic)
    }
}
