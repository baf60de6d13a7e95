// TestSupport: round-trip assertions, error capture and a seeded generator shared by the codec tests.

import XCTest
@testable import PostgresWire

/// Encodes `message` behind some unrelated bytes, pulls it back out through MessageDecoder (so the
/// body slice does not start at index 0) and checks type code and decoded value.
func assertRoundTrip<M: WireMessage & Equatable>(_ message: M, file: StaticString = #filePath, line: UInt = #line) {
    var decoder = MessageDecoder(maxPacketSize: 1 << 20)
    decoder.append(Sync().encoded)
    decoder.append(message.encoded)
    do {
        _ = try decoder.next()
        guard let (type, body) = try decoder.next() else { return XCTFail("no frame", file: file, line: line) }
        XCTAssertEqual(type, M.typeCode, file: file, line: line)
        XCTAssertNotEqual(body.startIndex, 0, file: file, line: line)
        XCTAssertEqual(try M.decode(body: body), message, file: file, line: line)
        XCTAssertEqual(decoder.bufferedByteCount, 0, file: file, line: line)
    } catch {
        XCTFail("round trip of \(message) threw \(error)", file: file, line: line)
    }
}

/// The body of an encoded message (drops type byte and length).
func body(of message: some WireMessage) -> ArraySlice<UInt8> {
    message.encoded.dropFirst(5)
}

/// The WireError `body` throws, or nil when it succeeds (any other error fails the test).
func wireError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> WireError? {
    do {
        _ = try body()
        return nil
    } catch let error as WireError {
        return error
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
        return nil
    }
}

/// True when `error` is `.malformed` with any text.
func isMalformed(_ error: WireError?) -> Bool {
    if case .malformed = error { return true }
    return false
}

/// A frame built by hand: type byte, length (body + 4), body.
func frame(_ type: Character, _ body: [UInt8]) -> [UInt8] {
    var bytes = [type.asciiValue!]
    let length = UInt32(body.count + 4)
    bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
    return bytes + body
}

/// C-string bytes: UTF-8 plus NUL.
func cString(_ string: String) -> [UInt8] {
    Array(string.utf8) + [0]
}

/// SplitMix64: a small deterministic generator so fuzz runs repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
