// ErrorResponseTests: ErrorResponse/NoticeResponse fields, the convenience init and a PostgreSQL-written vector.

import XCTest
@testable import PostgresWire

final class ErrorResponseTests: XCTestCase {
    func testDecodesHandWrittenErrorResponse() throws {
        let bytes: [UInt8] = [0x53] + cString("FATAL") + [0x56] + cString("FATAL") + [0x43] + cString("28P01")
            + [0x4D] + cString("password authentication failed for user \"bob\"") + [0x46] + cString("auth.c")
            + [0x4C] + cString("326") + [0x52] + cString("auth_failed") + [0]
        let error = try ErrorResponse.decode(body: frame("E", bytes).dropFirst(5))
        XCTAssertEqual(error.severity, "FATAL")
        XCTAssertEqual(error.fields.localizedSeverity, "FATAL")
        XCTAssertEqual(error.code, SQLState.invalidPassword)
        XCTAssertEqual(error.message, "password authentication failed for user \"bob\"")
        XCTAssertNil(error.detail)
        XCTAssertEqual(error.fields[UInt8(ascii: "R")], "auth_failed")
        XCTAssertEqual(error.fields.fields.count, 7)
        XCTAssertEqual(Array(body(of: error)), bytes)
    }

    func testConvenienceInitWritesFieldsLikePostgreSQL() throws {
        let error = ErrorResponse(severity: .fatal, code: SQLState.tooManyConnections,
                                  message: "too many connections for database \"app\"", hint: "raise max_db_client_connections")
        XCTAssertEqual(error.fields.fields.map(\.code), Array("SVCMH".utf8))
        XCTAssertEqual(error.encoded, frame("E", [0x53] + cString("FATAL") + [0x56] + cString("FATAL") + [0x43] + cString("53300")
            + [0x4D] + cString("too many connections for database \"app\"")
            + [0x48] + cString("raise max_db_client_connections") + [0]))
        assertRoundTrip(error)
        assertRoundTrip(ErrorResponse(severity: .error, code: SQLState.queryCanceled, message: "canceled", detail: "d", hint: "h"))
    }

    func testNoticeResponseSharesTheLayout() throws {
        let notice = NoticeResponse(severity: .warning, code: "01000", message: "careful")
        assertRoundTrip(notice)
        XCTAssertEqual(notice.encoded.dropFirst(), ErrorResponse(fields: notice.fields).encoded.dropFirst())
        XCTAssertEqual(NoticeResponse.typeCode, UInt8(ascii: "N"))
    }

    func testSeverityFallsBackToSForOldServers() throws {
        let old = try ErrorResponse.decode(body: ([0x53] + cString("ERROR") + [0x43] + cString("42P01") + [0])[...])
        XCTAssertEqual(old.severity, "ERROR")
        let localized = try ErrorResponse.decode(body: ([0x53] + cString("FEHLER") + [0x56] + cString("ERROR") + [0])[...])
        XCTAssertEqual(localized.severity, "ERROR")
        XCTAssertEqual(localized.fields.localizedSeverity, "FEHLER")
    }

    func testNonUTF8MessageStillYieldsTheCode() throws {
        let body: [UInt8] = [0x43] + cString("22021") + [0x4D, 0x63, 0xE9, 0] + [0]
        let error = try ErrorResponse.decode(body: body[...])
        XCTAssertEqual(error.code, "22021")
        XCTAssertEqual(error.message, "c\u{FFFD}")
    }

    func testMalformed() {
        XCTAssertTrue(isMalformed(wireError { try ErrorResponse.decode(body: [][...]) }))
        XCTAssertTrue(isMalformed(wireError { try ErrorResponse.decode(body: ([0x43] + Array("53300".utf8))[...]) }))
        XCTAssertTrue(isMalformed(wireError { try ErrorResponse.decode(body: ([0x43] + cString("53300"))[...]) }))
        XCTAssertTrue(isMalformed(wireError { try NoticeResponse.decode(body: [0, 0][...]) }))
    }

    func testSQLStateConstants() {
        XCTAssertEqual(SQLState.protocolViolation, "08P01")
        XCTAssertEqual(SQLState.sqlserverRejectedEstablishmentOfSQLConnection, "08004")
        XCTAssertEqual(SQLState.idleInTransactionSessionTimeout, "25P03")
        XCTAssertEqual(Severity(rawValue: "PANIC"), .panic)
    }
}
