// StatementParserTests: statements split on ; outside quotes; words keep quoted spaces and case.
@testable import SluiceAdmin
import XCTest

final class StatementParserTests: XCTestCase {
    func testSplitsOnSemicolonsOutsideQuotes() {
        let statements = StatementParser.statements(in: " show pools ;PAUSE \"a;b\";; ")
        XCTAssertEqual(statements.map(\.text), ["show pools", "PAUSE \"a;b\""])
        XCTAssertEqual(statements.map(\.words), [["show", "pools"], ["PAUSE", "a;b"]])
    }

    func testQuotedWords() {
        XCTAssertEqual(StatementParser.words(in: "KILL \"My DB\""), ["KILL", "My DB"])
        XCTAssertEqual(StatementParser.words(in: "KILL 'x''y'"), ["KILL", "x'y"])
        XCTAssertEqual(StatementParser.words(in: "KILL \"\""), ["KILL", ""])
    }
}
