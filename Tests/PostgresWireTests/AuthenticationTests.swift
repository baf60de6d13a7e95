// AuthenticationTests: every Authentication request, including a hand-written AuthenticationSASL.

import XCTest
@testable import PostgresWire

final class AuthenticationTests: XCTestCase {
    func testDecodesHandWrittenSASL() throws {
        let body: [UInt8] = [0, 0, 0, 10] + cString("SCRAM-SHA-256-PLUS") + cString("SCRAM-SHA-256") + [0]
        XCTAssertEqual(try Authentication.decode(body: body[...]),
                       .sasl(mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]))
        XCTAssertTrue(isMalformed(wireError { try Authentication.decode(body: body.dropLast()) }))
    }

    func testDecodesOkMD5AndSASLContinue() throws {
        XCTAssertEqual(try Authentication.decode(body: [0, 0, 0, 0][...]), .ok)
        XCTAssertEqual(try Authentication.decode(body: [0, 0, 0, 5, 1, 2, 3, 4][...]), .md5Password(salt: [1, 2, 3, 4]))
        XCTAssertEqual(try Authentication.decode(body: [0, 0, 0, 11, 0x72, 0x3D][...]), .saslContinue(data: [0x72, 0x3D]))
        XCTAssertTrue(isMalformed(wireError { try Authentication.decode(body: [0, 0, 0, 5, 1, 2, 3][...]) }))
        XCTAssertTrue(isMalformed(wireError { try Authentication.decode(body: [0, 0, 0, 0, 0][...]) }))
        XCTAssertTrue(isMalformed(wireError { try Authentication.decode(body: [0, 0][...]) }))
    }

    func testUnsupportedCodes() throws {
        for code: Int32 in [2, 6, 7, 8, 9, 99] {
            XCTAssertEqual(try Authentication.decode(body: [0, 0, 0, UInt8(code), 9, 9][...]), .unsupported(code: code))
        }
    }

    func testRoundTrips() {
        let messages: [Authentication] = [
            .ok, .cleartextPassword, .md5Password(salt: [9, 8, 7, 6]), .sasl(mechanisms: ["SCRAM-SHA-256"]),
            .saslContinue(data: Array("r=abc,s=c2FsdA==,i=4096".utf8)), .saslFinal(data: Array("v=abc=".utf8)),
            .unsupported(code: 7),
        ]
        for message in messages { assertRoundTrip(message) }
        XCTAssertEqual(Authentication.ok.encoded, [0x52, 0, 0, 0, 8, 0, 0, 0, 0])
    }
}
