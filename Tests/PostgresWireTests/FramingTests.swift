// FramingTests: header parsing, startup lengths, MessageDecoder partial frames and MessageWriter.

import XCTest
@testable import PostgresWire

final class FramingTests: XCTestCase {
    let readyForQuery: [UInt8] = [0x5A, 0, 0, 0, 5, 0x49]

    func testHeaderFromSliceAndRawBuffer() throws {
        let bytes: [UInt8] = [0xFF] + readyForQuery
        XCTAssertEqual(try Framing.header(in: bytes[1...], maxPacketSize: 100), FrameHeader(type: 0x5A, length: 5))
        XCTAssertEqual(try Framing.header(in: bytes[1...], maxPacketSize: 100)?.totalSize, 6)
        try bytes.withUnsafeBytes { raw in
            XCTAssertEqual(try Framing.header(in: raw, at: 1, maxPacketSize: 100), FrameHeader(type: 0x5A, length: 5))
            XCTAssertNil(try Framing.header(in: raw, at: 3, maxPacketSize: 100))
            XCTAssertNil(try Framing.header(in: raw, at: 99, maxPacketSize: 100))
        }
    }

    func testPartialHeaderIsNil() throws {
        XCTAssertNil(try Framing.header(in: readyForQuery[0..<4], maxPacketSize: 100))
        XCTAssertNil(try Framing.header(in: [][...], maxPacketSize: 100))
    }

    func testLengthBelowFourIsInvalid() {
        XCTAssertEqual(wireError { try Framing.header(in: [0x5A, 0, 0, 0, 3][...], maxPacketSize: 100) }, .invalidLength(3))
        XCTAssertEqual(wireError { try Framing.header(in: [0x5A, 0xFF, 0xFF, 0xFF, 0xFF][...], maxPacketSize: 100) },
                       .invalidLength(-1))
    }

    func testLengthAboveMaximumIsTooLarge() {
        XCTAssertEqual(wireError { try Framing.header(in: [0x51, 0, 0, 1, 0][...], maxPacketSize: 100) },
                       .packetTooLarge(256, max: 100))
        var decoder = MessageDecoder(maxPacketSize: 100)
        decoder.append([0x51, 0x7F, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(wireError { try decoder.next() }, .packetTooLarge(Int(Int32.max), max: 100))
        XCTAssertEqual(wireError { try decoder.next() }, .packetTooLarge(Int(Int32.max), max: 100), "stays stuck")
    }

    func testStartupLength() throws {
        XCTAssertNil(try Framing.startupLength(in: [0, 0, 0][...]))
        XCTAssertEqual(try Framing.startupLength(in: [0, 0, 0, 8, 4, 0xD2, 0x16, 0x2F][...]), 8)
        XCTAssertEqual(wireError { try Framing.startupLength(in: [0, 0, 0, 7][...]) }, .invalidLength(7))
        XCTAssertEqual(wireError { try Framing.startupLength(in: [0, 0, 0x27, 0x11][...]) },
                       .packetTooLarge(10_001, max: 10_000))
        XCTAssertEqual(try Framing.startupLength(in: [9, 0, 0, 0x27, 0x10][1...]), 10_000)
    }

    func testDecoderReturnsNilOnPartialHeaderAndBody() throws {
        var decoder = MessageDecoder(maxPacketSize: 100)
        decoder.append(readyForQuery[0..<3])
        XCTAssertNil(try decoder.next())
        decoder.append(readyForQuery[3..<5])
        XCTAssertNil(try decoder.next())
        XCTAssertEqual(decoder.bufferedByteCount, 5)
        decoder.append(readyForQuery[5...])
        let message = try XCTUnwrap(try decoder.next())
        XCTAssertEqual(message.type, ReadyForQuery.typeCode)
        XCTAssertEqual(try ReadyForQuery.decode(body: message.body), ReadyForQuery(status: .idle))
        XCTAssertNil(try decoder.next())
        XCTAssertEqual(decoder.bufferedByteCount, 0)
    }

    func testDecoderByteByByte() throws {
        var writer = MessageWriter()
        writer.write(ParameterStatus(name: "client_encoding", value: "UTF8"))
        writer.write(BackendKeyData(processID: 42, secretKey: 0xDEAD_BEEF))
        writer.write(ReadyForQuery(status: .inTransaction))
        var decoder = MessageDecoder(maxPacketSize: 100)
        var types: [UInt8] = []
        for byte in writer.bytes {
            decoder.append(CollectionOfOne(byte))
            while let message = try decoder.next() {
                types.append(message.type)
                if message.type == ReadyForQuery.typeCode {
                    XCTAssertEqual(try ReadyForQuery.decode(body: message.body).status, .inTransaction)
                }
            }
        }
        XCTAssertEqual(types, [UInt8(ascii: "S"), UInt8(ascii: "K"), UInt8(ascii: "Z")])
    }

    func testTwoCoalescedMessagesInOneAppend() throws {
        var decoder = MessageDecoder(maxPacketSize: 100)
        decoder.append(Query("SELECT 1").encoded + Terminate().encoded + [0x51, 0])
        XCTAssertEqual(try decoder.next().map { try Query.decode(body: $0.body) }, Query("SELECT 1"))
        XCTAssertEqual(try decoder.next()?.type, Terminate.typeCode)
        XCTAssertNil(try decoder.next())
        XCTAssertEqual(decoder.bufferedByteCount, 2)
    }

    func testDecoderCompactsWhileBodiesStayValid() throws {
        var decoder = MessageDecoder(maxPacketSize: 10_000)
        var bodies: [ArraySlice<UInt8>] = []
        for index in 0..<2000 {
            decoder.append(CommandComplete(tag: "SELECT \(index)").encoded)
            if let message = try decoder.next() { bodies.append(message.body) }
        }
        XCTAssertEqual(bodies.count, 2000)
        XCTAssertEqual(try CommandComplete.decode(body: bodies[1234]).tag, "SELECT 1234")
        XCTAssertEqual(decoder.bufferedByteCount, 0)
    }

    func testDecoderStartupPacketThenTypedMessages() throws {
        var decoder = MessageDecoder(maxPacketSize: 100)
        let startup = StartupPacket.startup(protocolVersion: StartupPacket.protocolVersion3,
                                            parameters: ["user": "alice"])
        decoder.append(StartupPacket.sslRequest.encoded + startup.encoded.prefix(6))
        XCTAssertEqual(try decoder.nextStartupPacket().map { try StartupPacket.decode(body: $0) }, .sslRequest)
        XCTAssertNil(try decoder.nextStartupPacket())
        decoder.append(startup.encoded.dropFirst(6) + PasswordMessage(password: "pw").encoded)
        XCTAssertEqual(try decoder.nextStartupPacket().map { try StartupPacket.decode(body: $0) }, startup)
        XCTAssertEqual(try decoder.next().map { try PasswordMessage.decode(body: $0.body).password }, "pw")
    }

    func testWriterWritesBothDirectionsAndSharedMessages() {
        var writer = MessageWriter(reservingCapacity: 64)
        writer.write(ReadyForQuery(status: .idle))
        writer.write(Sync())
        writer.write(CopyData(data: [1, 2]))
        writer.write(CopyDone())
        writer.write(StartupPacket.sslRequest)
        XCTAssertEqual(writer.bytes, readyForQuery + [0x53, 0, 0, 0, 4] + [0x64, 0, 0, 0, 6, 1, 2]
            + [0x63, 0, 0, 0, 4] + [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F])
    }

    func testWriterTakesExistentials() {
        let backend: [any BackendMessage] = [ReadyForQuery(status: .idle), CopyData(data: [7])]
        let frontend: any FrontendMessage = Flush()
        var writer = MessageWriter()
        for message in backend { writer.write(message) }
        writer.write(frontend)
        XCTAssertEqual(writer.bytes, readyForQuery + [0x64, 0, 0, 0, 5, 7] + [0x48, 0, 0, 0, 4])
    }

    func testStringsWithNULAreCutToKeepFramesValid() throws {
        let encoded = Query("SELECT 1\0; DROP TABLE x").encoded
        XCTAssertEqual(try Query.decode(body: encoded.dropFirst(5)), Query("SELECT 1"))
    }
}
