// ConnectionParameters: the libpq keyword/value arrays every connection of a target is opened with.
import CLibpq
import Foundation

/// C strings kept alive for the whole run. `dbname` carries the user's URL (expanded by libpq),
/// placed last so that anything the URL says overrides our defaults.
final class ConnectionParameters: @unchecked Sendable {
    private let keywords: [UnsafeMutablePointer<CChar>?]
    private let values: [UnsafeMutablePointer<CChar>?]

    init(url: String, connectTimeoutSeconds: Int) {
        let pairs = [("connect_timeout", String(max(1, connectTimeoutSeconds))),
                     ("application_name", "sluice-bench"),
                     ("dbname", url)]
        keywords = pairs.map { strdup($0.0) } + [nil]
        values = pairs.map { strdup($0.1) } + [nil]
    }

    deinit {
        keywords.forEach { free($0) }
        values.forEach { free($0) }
    }

    /// Starts a non-blocking connection (`PQconnectStartParams`); the caller drives `PQconnectPoll`.
    func startConnection() -> OpaquePointer? {
        withArrays { PQconnectStartParams($0, $1, 1) }
    }

    /// Opens a connection and waits for it (`PQconnectdbParams`), for the check before a run.
    func connectBlocking() -> OpaquePointer? {
        withArrays { PQconnectdbParams($0, $1, 1) }
    }

    private func withArrays<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>, UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let constKeywords = keywords.map { UnsafePointer($0) }
        let constValues = values.map { UnsafePointer($0) }
        return constKeywords.withUnsafeBufferPointer { keywordBuffer in
            constValues.withUnsafeBufferPointer { valueBuffer in
                body(keywordBuffer.baseAddress!, valueBuffer.baseAddress!)
            }
        }
    }
}

/// libpq's current error message for `connection`, trimmed.
func libpqErrorMessage(_ connection: OpaquePointer?) -> String {
    guard let connection, let message = PQerrorMessage(connection) else { return "out of memory" }
    let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    return text.isEmpty ? "unknown libpq error" : text
}

/// The SQLSTATE in a verbose libpq message (`FATAL:  53300: sorry, too many clients already`), if any.
/// Connection-time errors have no PGresult, so this is the only way to learn their code.
func sqlstate(inVerboseMessage message: String) -> String? {
    let bytes = Array(message.utf8)
    var index = 0
    while index + 9 <= bytes.count {
        // ":  XXXXX:" — a severity's colon, two spaces, five code characters, a colon.
        if bytes[index] == UInt8(ascii: ":"), bytes[index + 1] == UInt8(ascii: " "),
           bytes[index + 2] == UInt8(ascii: " "), bytes[index + 8] == UInt8(ascii: ":") {
            let code = bytes[(index + 3)..<(index + 8)]
            if code.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                                 || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) {
                return String(decoding: code, as: UTF8.self)
            }
        }
        index += 1
    }
    return nil
}
