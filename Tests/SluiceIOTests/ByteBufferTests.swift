// Tests for ByteBuffer: append, consume, compaction, growth, big-endian reads.
import XCTest
@testable import SluiceIO

final class ByteBufferTests: XCTestCase {
    func testAppendConsumeAndReadBigEndian() {
        let buffer = ByteBuffer(capacity: 16)
        buffer.append([UInt8(ascii: "Z"), 0, 0, 0, 5, UInt8(ascii: "I")])
        XCTAssertEqual(buffer.readableBytes, 6)
        XCTAssertEqual(buffer.byte(at: 0), UInt8(ascii: "Z"))
        XCTAssertEqual(buffer.int32(at: 1), 5)
        buffer.consume(5)
        XCTAssertEqual(buffer.byte(at: 0), UInt8(ascii: "I"))
        buffer.consume(1)
        XCTAssertTrue(buffer.isEmpty)
        XCTAssertEqual(buffer.readIndex, 0, "an emptied buffer rewinds")
    }

    func testGrowsAndKeepsContent() {
        let buffer = ByteBuffer(capacity: 16)
        let bytes = (0..<1000).map { UInt8($0 % 251) }
        buffer.append(Array(bytes[0..<10]))
        buffer.consume(3)
        buffer.append(Array(bytes[10...]))
        XCTAssertEqual(buffer.bytes(at: 0, count: buffer.readableBytes), Array(bytes[3...]))
        XCTAssertGreaterThanOrEqual(buffer.capacity, 997)
    }

    func testCompactMovesUnreadBytesToFront() {
        let buffer = ByteBuffer(capacity: 8)
        buffer.append([1, 2, 3, 4, 5, 6])
        buffer.consume(4)
        buffer.compact()
        XCTAssertEqual(buffer.readIndex, 0)
        XCTAssertEqual(buffer.bytes(at: 0, count: 2), [5, 6])
        XCTAssertEqual(buffer.writableBytes, buffer.capacity - 2)
    }

    func testShrinkOnlyWhenEmpty() {
        let buffer = ByteBuffer(capacity: 16)
        buffer.reserve(4096)
        buffer.append([1])
        buffer.shrink(to: 16)
        XCTAssertGreaterThanOrEqual(buffer.capacity, 4096)
        buffer.consume(1)
        buffer.shrink(to: 16)
        XCTAssertEqual(buffer.capacity, 16)
    }

    func testNegativeInt32() {
        let buffer = ByteBuffer(capacity: 8)
        buffer.append([0xff, 0xff, 0xff, 0xfe])
        XCTAssertEqual(buffer.int32(at: 0), -2)
    }
}
