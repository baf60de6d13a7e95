// FrontendMessageTests: round trips and hand-written vectors for the client → server messages.

import XCTest
@testable import PostgresWire

final class FrontendMessageTests: XCTestCase {
    func testQuery() throws {
        assertRoundTrip(Query("SELECT 'ü'"))
        XCTAssertEqual(Query("SELECT 1").encoded, frame("Q", cString("SELECT 1")))
        XCTAssertTrue(isMalformed(wireError { try Query.decode(body: Array("SELECT".utf8)[...]) }))
    }

    func testParse() throws {
        assertRoundTrip(Parse(statementName: "s1", query: "SELECT $1, $2", parameterTypeOIDs: [23, 0]))
        assertRoundTrip(Parse(statementName: "", query: "SELECT 1"))
        XCTAssertTrue(isMalformed(wireError {
            try Parse.decode(body: (cString("s") + cString("q") + [0, 2, 0, 0, 0, 23])[...])
        }))
    }

    func testBind() throws {
        let bind = Bind(portalName: "", statementName: "s1", parameterFormats: [0], parameters: [Array("42".utf8), nil],
                        resultFormats: [1])
        assertRoundTrip(bind)
        XCTAssertEqual(Array(bind.rest), [0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0x34, 0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 0, 1])
        var renamed = try Bind.decode(body: body(of: bind))
        renamed.statementName = "sluice_7"
        let decoded = try Bind.decode(body: body(of: renamed))
        XCTAssertEqual(decoded.statementName, "sluice_7")
        XCTAssertEqual(decoded.rest, bind.rest)
        XCTAssertTrue(isMalformed(wireError { try Bind.decode(body: cString("portal")[...]) }))
    }

    func testDescribeExecuteClose() throws {
        assertRoundTrip(Describe(kind: .statement, name: "s1"))
        assertRoundTrip(Describe(kind: .portal, name: ""))
        XCTAssertEqual(Describe(kind: .portal, name: "").encoded, frame("D", [0x50, 0]))
        XCTAssertTrue(isMalformed(wireError { try Describe.decode(body: [0x58, 0][...]) }))
        assertRoundTrip(Execute(portalName: "", maxRows: 0))
        assertRoundTrip(Execute(portalName: "p", maxRows: 100))
        assertRoundTrip(Close(kind: .statement, name: "s1"))
        assertRoundTrip(Close(kind: .portal, name: "p"))
        XCTAssertTrue(isMalformed(wireError { try Close.decode(body: [][...]) }))
    }

    func testEmptyMessages() throws {
        assertRoundTrip(Sync())
        assertRoundTrip(Flush())
        assertRoundTrip(Terminate())
        assertRoundTrip(CopyDone())
        XCTAssertEqual(Terminate().encoded, [0x58, 0, 0, 0, 4])
        XCTAssertTrue(isMalformed(wireError { try Sync.decode(body: [0][...]) }))
    }

    func testCopyMessages() throws {
        assertRoundTrip(CopyData(data: [1, 2, 3, 0, 255]))
        assertRoundTrip(CopyData(data: []))
        assertRoundTrip(CopyFail(message: "aborted by user"))
    }

    func testPasswordAndSASLMessages() throws {
        assertRoundTrip(PasswordMessage(password: "md5abc"))
        assertRoundTrip(SASLInitialResponse(mechanism: "SCRAM-SHA-256", data: Array("n,,n=,r=abc".utf8)))
        assertRoundTrip(SASLInitialResponse(mechanism: "SCRAM-SHA-256", data: nil))
        assertRoundTrip(SASLInitialResponse(mechanism: "SCRAM-SHA-256", data: []))
        assertRoundTrip(SASLResponse(data: Array("c=biws,r=x,p=y".utf8)))
        XCTAssertEqual(SASLInitialResponse(mechanism: "M", data: nil).encoded, frame("p", cString("M") + [0xFF, 0xFF, 0xFF, 0xFF]))
        XCTAssertTrue(isMalformed(wireError { try SASLInitialResponse.decode(body: (cString("M") + [0, 0, 0, 9, 1])[...]) }))
        XCTAssertTrue(isMalformed(wireError { try SASLInitialResponse.decode(body: (cString("M") + [0xFF, 0xFF, 0xFF, 0xFE])[...]) }))
    }
}
