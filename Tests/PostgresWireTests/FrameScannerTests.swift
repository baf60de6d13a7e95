// FrameScannerTests: the header reader every stream loop uses — partial, valid, invalid, limits.

import XCTest
@testable import PostgresWire

final class FrameScannerTests: XCTestCase {
    private func frame(_ bytes: [UInt8], at offset: Int = 0, max: Int = 100) -> Frame {
        bytes.withUnsafeBytes { FrameScanner(maxMessageSize: max).frame($0.baseAddress!, count: $0.count, at: offset) }
    }

    private func startup(_ bytes: [UInt8]) -> StartupFrame {
        bytes.withUnsafeBytes { FrameScanner.startupFrame($0.baseAddress!, count: $0.count) }
    }

    func testFewerThanFiveBytesAreIncomplete() {
        XCTAssertEqual(frame([0x5A, 0, 0, 0]), .incomplete)
        XCTAssertEqual(frame([0x5A, 0, 0, 0, 5, 0x49], at: 2), .incomplete)
        XCTAssertEqual(frame([0x5A, 0, 0, 0, 5], at: 6), .incomplete)
        XCTAssertEqual(frame([0x5A, 0, 0, 0, 5], at: -1), .incomplete)
    }

    func testHeaderOfAWholeOrPartialMessage() {
        XCTAssertEqual(frame([0x5A, 0, 0, 0, 5, 0x49]), .message(type: 0x5A, length: 5))
        XCTAssertEqual(frame([0x51, 0, 0, 0, 20]), .message(type: 0x51, length: 20), "the body need not be there")
        XCTAssertEqual(frame([0xFF, 0x5A, 0, 0, 0, 4], at: 1), .message(type: 0x5A, length: 4))
    }

    func testLengthBelowFourOrAboveTheLimitIsInvalid() {
        XCTAssertEqual(frame([0x51, 0, 0, 0, 3]), .invalid(type: 0x51, length: 3))
        XCTAssertEqual(frame([0x51, 0xFF, 0xFF, 0xFF, 0xFF]), .invalid(type: 0x51, length: -1))
        XCTAssertEqual(frame([0x51, 0, 0, 0, 100]), .message(type: 0x51, length: 100), "the limit itself is allowed")
        XCTAssertEqual(frame([0x51, 0, 0, 0, 101]), .invalid(type: 0x51, length: 101))
        XCTAssertEqual(frame([0x51, 0x7F, 0xFF, 0xFF, 0xFF], max: Int(Int32.max)),
                       .message(type: 0x51, length: Int(Int32.max)))
    }

    func testErrorsNameTheLimit() {
        let scanner = FrameScanner(maxMessageSize: 100)
        XCTAssertEqual(scanner.error(forLength: 3), .invalidLength(3))
        XCTAssertEqual(scanner.error(forLength: 101), .packetTooLarge(101, max: 100))
    }

    func testStartupFrames() {
        XCTAssertEqual(startup([0, 0, 0]), .incomplete)
        XCTAssertEqual(startup([0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]), .packet(length: 8))
        XCTAssertEqual(startup([0, 0, 0, 7]), .invalid(length: 7))
        XCTAssertEqual(startup([0, 0, 0x27, 0x10]), .packet(length: 10_000))
        XCTAssertEqual(startup([0, 0, 0x27, 0x11]), .invalid(length: 10_001))
    }

    /// A stream walked as the relays walk it: header after header, whole messages skipped.
    func testWalkingAStreamFindsEveryMessage() {
        var stream: [UInt8] = []
        var writer = MessageWriter()
        writer.write(ReadyForQuery(status: .idle))
        writer.write(ReadyForQuery(status: .inTransaction))
        stream = writer.bytes + [0x51, 0, 0, 0, 9, 0x73, 0x65]  // a Query whose body is still due
        var types: [UInt8] = []
        var position = 0
        let scanner = FrameScanner(maxMessageSize: 1 << 20)
        scan: while true {
            switch stream.withUnsafeBytes({ scanner.frame($0.baseAddress!, count: $0.count, at: position) }) {
            case .incomplete, .invalid: break scan
            case .message(let type, let length):
                types.append(type)
                position += length + 1
            }
        }
        XCTAssertEqual(types, [0x5A, 0x5A, 0x51])
        XCTAssertEqual(position, 12 + 10, "the last message ends past what has arrived")
    }
}
