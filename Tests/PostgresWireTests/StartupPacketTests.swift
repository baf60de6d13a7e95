// StartupPacketTests: StartupMessage parameters, SSLRequest, GSSENCRequest, CancelRequest and bad layouts.

import XCTest
@testable import PostgresWire

final class StartupPacketTests: XCTestCase {
    func testDecodesHandWrittenStartupMessage() throws {
        let body: [UInt8] = [0, 3, 0, 0] + cString("user") + cString("alice") + cString("database") + cString("app")
            + cString("application_name") + cString("psql") + [0]
        var packet: [UInt8] = [0, 0, 0, UInt8(body.count + 4)] + body
        XCTAssertEqual(try Framing.startupLength(in: packet[...]), packet.count)
        packet.insert(0xEE, at: 0)
        let decoded = try StartupPacket.decode(body: packet[5...])
        guard case .startup(let version, let parameters) = decoded else { return XCTFail("\(decoded)") }
        XCTAssertEqual(version, 196_608)
        XCTAssertEqual(parameters.pairs.map(\.name), ["user", "database", "application_name"])
        XCTAssertEqual(parameters["database"], "app")
        XCTAssertNil(parameters["options"])
        XCTAssertEqual(decoded.encoded, Array(packet.dropFirst()))
    }

    func testDecodesSSLRequestAndGSSENCRequest() throws {
        XCTAssertEqual(try StartupPacket.decode(body: [0x04, 0xD2, 0x16, 0x2F][...]), .sslRequest)
        XCTAssertEqual(try StartupPacket.decode(body: [0x04, 0xD2, 0x16, 0x30][...]), .gssEncRequest)
        XCTAssertEqual(StartupPacket.sslRequest.encoded, [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F])
        XCTAssertTrue(isMalformed(wireError { try StartupPacket.decode(body: [0x04, 0xD2, 0x16, 0x2F, 0][...]) }))
    }

    func testDecodesCancelRequest() throws {
        let packet: [UInt8] = [0, 0, 0, 16, 0x04, 0xD2, 0x16, 0x2E, 0, 0, 0x30, 0x39, 0xDE, 0xAD, 0xBE, 0xEF]
        XCTAssertEqual(try StartupPacket.decode(body: packet[4...]), .cancelRequest(processID: 12345, secretKey: 0xDEAD_BEEF))
        XCTAssertEqual(StartupPacket.cancelRequest(processID: 12345, secretKey: 0xDEAD_BEEF).encoded, packet)
        XCTAssertTrue(isMalformed(wireError { try StartupPacket.decode(body: packet[4..<15]) }))
    }

    func testRoundTrips() throws {
        let packets: [StartupPacket] = [
            .startup(protocolVersion: StartupPacket.protocolVersion3, parameters: ["user": "bob", "options": "-c x=1"]),
            .startup(protocolVersion: StartupPacket.protocolVersion3 | 2, parameters: ["user": "ünïcode"]),
            .startup(protocolVersion: StartupPacket.protocolVersion3, parameters: StartupParameters()),
            .sslRequest, .gssEncRequest, .cancelRequest(processID: -1, secretKey: 0),
        ]
        for packet in packets {
            let bytes = [0xAB] + packet.encoded
            XCTAssertEqual(try Framing.startupLength(in: bytes[1...]), bytes.count - 1)
            XCTAssertEqual(try StartupPacket.decode(body: bytes[5...]), packet)
        }
    }

    func testOtherProtocolVersionsReportTheNumber() throws {
        XCTAssertEqual(try StartupPacket.decode(body: [0, 2, 0, 0, 1, 2, 3][...]),
                       .startup(protocolVersion: 2 << 16, parameters: StartupParameters()))
        XCTAssertEqual(try StartupPacket.decode(body: [0x04, 0xD2, 0x16, 0x31][...]),
                       .startup(protocolVersion: 80_877_105, parameters: StartupParameters()))
        XCTAssertEqual(StartupPacket.majorVersion(196_610), 3)
        XCTAssertEqual(StartupPacket.minorVersion(196_610), 2)
    }

    func testBadLayoutsAreMalformed() {
        let version: [UInt8] = [0, 3, 0, 0]
        let cases: [[UInt8]] = [
            [0, 3],                                                       // truncated version
            version,                                                      // no terminator
            version + cString("user"),                                    // name without value
            version + cString("user") + Array("alice".utf8),              // value without NUL
            version + cString("user") + cString("alice"),                 // no final empty name
            version + cString("user") + cString("alice") + [0, 0x41],     // bytes after terminator
            version + [0x75, 0xFF, 0] + cString("x") + [0],               // name not UTF-8
        ]
        for bytes in cases {
            XCTAssertTrue(isMalformed(wireError { try StartupPacket.decode(body: bytes[...]) }), "\(bytes)")
        }
    }

    func testStartupParametersSubscriptKeepsOrder() {
        var parameters: StartupParameters = ["user": "a", "database": "b"]
        parameters["user"] = "c"
        parameters["application_name"] = "d"
        XCTAssertEqual(parameters.pairs.map(\.name), ["user", "database", "application_name"])
        XCTAssertEqual(parameters["user"], "c")
        parameters["database"] = nil
        XCTAssertEqual(parameters, StartupParameters([("user", "c"), ("application_name", "d")]))
        XCTAssertEqual(parameters.count, 2)
    }
}
