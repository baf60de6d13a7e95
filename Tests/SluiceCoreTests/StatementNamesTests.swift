// Tests for StatementNames: one shared name per distinct statement, and the bound.
import XCTest
import PostgresWire
@testable import SluiceCore

final class StatementNamesTests: XCTestCase {
    func testSameStatementSameNameDifferentTypesDifferentName() {
        var names = StatementNames()
        let a = names.name(for: StatementKey(query: "select $1", parameterTypes: [23]))
        XCTAssertEqual(a, "sluice_1")
        XCTAssertEqual(names.name(for: StatementKey(query: "select $1", parameterTypes: [23])), "sluice_1")
        XCTAssertEqual(names.name(for: StatementKey(query: "select $1", parameterTypes: [25])), "sluice_2")
        XCTAssertEqual(names.name(for: StatementKey(query: "select 2", parameterTypes: [])), "sluice_3")
        XCTAssertEqual(names.count, 3)
        XCTAssertEqual(names.named, 3)
    }

    func testTableStartsAfreshPastTheLimitWithNewNames() {
        var names = StatementNames(limit: 3)
        for i in 1...3 { XCTAssertEqual(names.name(for: StatementKey(query: "q\(i)", parameterTypes: [])), "sluice_\(i)") }
        XCTAssertEqual(names.count, 3)
        // The fourth distinct statement clears the table: it never holds more than the limit.
        XCTAssertEqual(names.name(for: StatementKey(query: "q4", parameterTypes: [])), "sluice_4")
        XCTAssertEqual(names.count, 1)
        // A statement named before gets a new name (never an old one that may mean another text).
        XCTAssertEqual(names.name(for: StatementKey(query: "q1", parameterTypes: [])), "sluice_5")
        XCTAssertEqual(names.named, 5)
        for i in 0..<100 { _ = names.name(for: StatementKey(query: "x\(i)", parameterTypes: [])) }
        XCTAssertLessThanOrEqual(names.count, 3)
    }
}
