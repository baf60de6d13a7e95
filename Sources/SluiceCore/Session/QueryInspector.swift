// QueryInspector: what the client relay reads in a Query or Parse it forwards, as pure functions over the bytes.
import PostgresWire

/// The few things Sluice reads in a client's statement text: a `DEALLOCATE` it answers itself, a
/// lone `SET`/`RESET`/`DISCARD ALL` whose setting follows the client, the text kept for leak
/// reports, and the statement text read for session state (`SessionStateScan`). Each function takes
/// `message`: the bytes of one message from its type byte on, as much of it as has arrived
/// (never more), and `length`: the message's length field. Nothing is kept between calls.
enum QueryInspector {
    /// What `detectSetStatement` found in a Query.
    enum SetStatementCheck: Equatable {
        /// Not a whole query starting with SET, RESET or DISCARD (or longer than 4,096 bytes): nothing to note.
        case notChecked
        /// A query starting with SET, RESET or DISCARD: the lone statement Sluice tracks, or nil
        /// when it is some other form (`SET LOCAL`, several statements, …).
        case checked(SetStatement?)
    }

    /// The longest Query looked at for `SET`, and for `DEALLOCATE`.
    static let maxSetQueryLength = 4096
    static let maxDeallocateQueryLength = 1024
    /// Characters of a statement kept for leak reports, and the bytes read to find them.
    static let capturedCharacters = 200
    static let capturedBytes = 800

    /// The statement name of a whole Query `DEALLOCATE name` (not `DEALLOCATE ALL`), else nil.
    /// The caller answers it only when the client named such a statement.
    static func deallocatedStatementName(_ message: UnsafeRawBufferPointer, length: Int) -> String? {
        guard length <= maxDeallocateQueryLength, message.count >= length + 1 else { return nil }
        var offset = 5
        while offset < length && message[offset] == UInt8(ascii: " ") { offset += 1 }
        guard startsWithWord(message, at: offset, end: length, "deallocate") else { return nil }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: message[5..<length]), as: UTF8.self)
        if case .name(let name)? = Deallocate.parse(text) { return name }
        return nil
    }

    /// A lone SET/RESET/DISCARD ALL in a whole Query, so the setting can follow the client to other servers.
    static func detectSetStatement(_ message: UnsafeRawBufferPointer, length: Int) -> SetStatementCheck {
        guard length <= maxSetQueryLength, message.count >= length + 1 else { return .notChecked }
        var offset = 5
        while offset < length + 1 && message[offset] == UInt8(ascii: " ") { offset += 1 }
        // Only a query starting with SET, RESET or DISCARD is looked at further (cheap byte test first).
        guard startsWithWord(message, at: offset, end: length, "set") || startsWithWord(message, at: offset, end: length, "reset")
                || startsWithWord(message, at: offset, end: length, "discard") else { return .notChecked }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: message[5..<length]), as: UTF8.self)
        return .checked(SetStatement.parse(text))
    }

    /// Whether `bytes` holds `word` (lower-case ASCII, matched in any case) at `offset`, followed
    /// by a space, tab, line break or NUL before `end` (the index of the message's last byte).
    static func startsWithWord(_ bytes: UnsafeRawBufferPointer, at offset: Int, end: Int, _ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard offset >= 0, offset + count < end, end <= bytes.count else { return false }
        let letters = word.utf8Start
        for i in 0..<count where bytes[offset + i] | 0x20 != letters[i] { return false }
        let next = bytes[offset + count]
        return next == 0x20 || next == 0x09 || next == 0x0a || next == 0x0d || next == 0
    }

    /// The first 200 characters of a Query's text, or a Parse's (`skipName`: after its statement
    /// name), for leak reports; nil when none of it has arrived. One log line per event: control
    /// characters are escaped (a newline could forge a line).
    static func captureQuery(_ message: UnsafeRawBufferPointer, length: Int, skipName: Bool = false) -> String? {
        let available = min(length - 4, capturedBytes, message.count - 5)
        guard available > 0 else { return nil }
        var bytes = UnsafeRawBufferPointer(rebasing: message[5..<(5 + available)])
        if skipName {
            guard let end = bytes.firstIndex(of: 0) else { return nil }
            bytes = UnsafeRawBufferPointer(rebasing: bytes[(end + 1)...])
        }
        return escapedForLog(String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self))
    }

    /// The first 200 characters of `text` with control characters escaped (one log line per event).
    static func escapedForLog(_ text: String) -> String {
        var escaped = ""
        for scalar in text.prefix(capturedCharacters).unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            default: escaped.unicodeScalars.append(scalar.value < 0x20 ? "?" : scalar)
            }
        }
        return escaped
    }

    /// The statement text of a Query, or of a Parse after its statement name, as much as has
    /// arrived (at most `SessionStateScan.maxBytes`), for `SessionStateScan`.
    static func statementText(type: UInt8, _ message: UnsafeRawBufferPointer, length: Int) -> UnsafeRawBufferPointer {
        let end = min(length + 1, message.count, 5 + SessionStateScan.maxBytes)
        guard end > 5 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        var start = 5
        if type == Parse.typeCode {
            while start < end && message[start] != 0 { start += 1 }
            start += 1
            guard start < end else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        }
        return UnsafeRawBufferPointer(rebasing: message[start..<end])
    }
}
