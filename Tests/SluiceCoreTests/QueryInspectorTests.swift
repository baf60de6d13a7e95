// Tests for QueryInspector: DEALLOCATE and SET detection, query capture for leak reports, session-state words.
import XCTest
import PostgresWire
@testable import SluiceCore

final class QueryInspectorTests: XCTestCase {
    /// A Query message; `arrived` cuts it to its first bytes, as a relay that has not read it all.
    private func query(_ text: String, arrived: Int? = nil) -> [UInt8] {
        let bytes = Query(text).encoded
        return Array(bytes.prefix(arrived ?? bytes.count))
    }

    private func length(_ message: [UInt8]) -> Int {
        Int(message[1]) << 24 | Int(message[2]) << 16 | Int(message[3]) << 8 | Int(message[4])
    }

    private func lengthOf(_ text: String) -> Int { Query(text).encoded.count - 1 }

    private func dealloc(_ text: String, arrived: Int? = nil) -> String? {
        query(text, arrived: arrived).withUnsafeBytes { QueryInspector.deallocatedStatementName($0, length: lengthOf(text)) }
    }

    private func set(_ text: String, arrived: Int? = nil) -> QueryInspector.SetStatementCheck {
        query(text, arrived: arrived).withUnsafeBytes { QueryInspector.detectSetStatement($0, length: lengthOf(text)) }
    }

    private func capture(_ message: [UInt8], length: Int, skipName: Bool = false) -> String? {
        message.withUnsafeBytes { QueryInspector.captureQuery($0, length: length, skipName: skipName) }
    }

    func testDeallocatedStatementName() {
        XCTAssertEqual(dealloc("DEALLOCATE stmt1"), "stmt1")
        XCTAssertEqual(dealloc("   deallocate   S_1;"), "s_1", "leading spaces, any case; unquoted names fold to lower case")
        XCTAssertEqual(dealloc("DeAlLoCaTe PREPARE \"Quoted\""), "Quoted")
        XCTAssertNil(dealloc("DEALLOCATE ALL"), "DEALLOCATE ALL goes to the server")
        XCTAssertNil(dealloc("DEALLOCATEstmt1"), "the word must end")
        XCTAssertNil(dealloc("select 'DEALLOCATE x'"))
        XCTAssertNil(dealloc("DEALLOCATE a; select 1"))
        XCTAssertNil(dealloc("DEALLOCATE stmt1", arrived: 12), "only a whole message")
        XCTAssertNil(dealloc("DEALLOCATE " + String(repeating: "x", count: 1020)), "too long to look at")
    }

    func testSetStatementDetection() {
        XCTAssertEqual(set("SET search_path TO a"), .checked(.set(name: "search_path", sql: "SET search_path TO a")))
        XCTAssertEqual(set("  set\tstatement_timeout = 5"), .checked(.set(name: "statement_timeout", sql: "set\tstatement_timeout = 5")))
        XCTAssertEqual(set("Reset ALL"), .checked(.resetAll))
        XCTAssertEqual(set("DISCARD ALL"), .checked(.resetAll))
        XCTAssertEqual(set("SET LOCAL work_mem TO '1MB'"), .checked(nil), "a SET Sluice does not track clears what was pending")
        XCTAssertEqual(set("SET x TO 1; SELECT 1"), .checked(nil))
        XCTAssertEqual(set("SETTINGS"), .notChecked, "word boundary")
        XCTAssertEqual(set("select 1"), .notChecked)
        XCTAssertEqual(set("resetx"), .notChecked)
        XCTAssertEqual(set("SET search_path TO a", arrived: 15), .notChecked, "only a whole message")
        XCTAssertEqual(set("SET application_name TO '" + String(repeating: "x", count: 4100) + "'"), .notChecked, "too long")
    }

    func testStartsWithWordAtTheBufferEnd() {
        let bytes: [UInt8] = Array("SeT x\0".utf8)
        bytes.withUnsafeBytes { buffer in
            XCTAssertTrue(QueryInspector.startsWithWord(buffer, at: 0, end: 5, "set"))
            XCTAssertFalse(QueryInspector.startsWithWord(buffer, at: 0, end: 3, "set"), "no byte left after the word")
            XCTAssertFalse(QueryInspector.startsWithWord(buffer, at: 2, end: 5, "set"))
            XCTAssertFalse(QueryInspector.startsWithWord(buffer, at: 0, end: 9, "set"), "an end past the buffer is refused, not read")
            XCTAssertTrue(QueryInspector.startsWithWord(buffer, at: 4, end: 6, "x"), "followed by the message's final NUL")
            XCTAssertFalse(QueryInspector.startsWithWord(buffer, at: 4, end: 5, "x"), "the final NUL is past the end given")
        }
        let nul: [UInt8] = Array("set\0\0".utf8)
        nul.withUnsafeBytes { XCTAssertTrue(QueryInspector.startsWithWord($0, at: 0, end: 4, "set"), "NUL ends a word") }
    }

    func testCaptureQueryEscapesControlCharacters() {
        let message = query("select 1\nfrom t\r\n\twhere x = '\u{1}'")
        XCTAssertEqual(capture(message, length: length(message)), "select 1\\nfrom t\\r\\n\\twhere x = '?'")
    }

    func testCaptureQueryKeeps200Characters() {
        let message = query(String(repeating: "é", count: 150) + String(repeating: "a", count: 150))
        let text = capture(message, length: length(message))
        XCTAssertEqual(text?.count, 200)
        XCTAssertEqual(text, String(repeating: "é", count: 150) + String(repeating: "a", count: 50))
    }

    func testCaptureQueryOfPartOfAMessage() {
        let message = query("select 42 from t")
        XCTAssertEqual(capture(Array(message.prefix(11)), length: length(message)), "select")
        XCTAssertNil(capture(Array(message.prefix(5)), length: length(message)), "nothing of the text has arrived")
        XCTAssertEqual(capture(query(""), length: 5), "", "an empty query leaves an empty text")
    }

    func testCaptureQueryOfAParseSkipsTheStatementName() {
        let parse = Parse(statementName: "s1", query: "select $1", parameterTypeOIDs: [23]).encoded
        XCTAssertEqual(capture(parse, length: length(parse), skipName: true), "select $1")
        let unnamed = Parse(statementName: "", query: "select 2", parameterTypeOIDs: []).encoded
        XCTAssertEqual(capture(unnamed, length: length(unnamed), skipName: true), "select 2")
        XCTAssertNil(capture(Array(parse.prefix(6)), length: length(parse), skipName: true), "the name has not all arrived")
    }

    private func text(_ message: [UInt8]) -> String {
        message.withUnsafeBytes { String(decoding: QueryInspector.statementText(type: message[0], $0, length: length(message)), as: UTF8.self) }
    }

    func testStatementTextOfAQueryAndOfAParse() {
        XCTAssertEqual(text(query("select 1")), "select 1\0")
        let named = Parse(statementName: "s1", query: "select pg_advisory_lock($1)", parameterTypeOIDs: [23]).encoded
        XCTAssertTrue(text(named).hasPrefix("select pg_advisory_lock($1)\0"), "after the statement name")
        let partial = Array(query("select 1234567890").prefix(9))
        XCTAssertEqual(partial.withUnsafeBytes { QueryInspector.statementText(type: partial[0], $0, length: length(query("select 1234567890"))).count }, 4,
                       "only what has arrived")
    }
}
