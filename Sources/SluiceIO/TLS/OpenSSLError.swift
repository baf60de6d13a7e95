// OpenSSLError: TLSError and the reading of OpenSSL's (thread-local) error queue.
import COpenSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TLS failure, with the text OpenSSL gave for it.
public enum TLSError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Certificates, keys, CA files, ciphers or versions could not be set up.
    case configuration(String)
    /// The handshake failed: a certificate was refused, the peer sent an alert, the bytes were not TLS.
    case handshake(reason: String)
    /// An established connection failed: a bad record, a fatal alert, a write before the handshake.
    case connection(String)

    public var description: String {
        switch self {
        case .configuration(let message): return message
        case .handshake(let reason): return "TLS handshake failed: \(reason)"
        case .connection(let message): return "TLS connection failed: \(message)"
        }
    }
}

enum OpenSSLErrorQueue {
    /// One queued error: its packed code and its text.
    struct Entry {
        let code: UInt
        let text: String
        /// The reason part of the code (e.g. SSL_R_CERTIFICATE_VERIFY_FAILED).
        var reason: Int32 { ERR_GET_REASON(code) }
    }

    /// Empties this thread's error queue and returns its entries, oldest first. The text is
    /// the reason string where OpenSSL has one ("tlsv1 alert unknown ca"), else the full
    /// `ERR_error_string_n` text ("error:0A00010B:SSL routines::wrong version number").
    static func drainEntries() -> [Entry] {
        var entries: [Entry] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if code & systemErrorFlag != 0 {
                // A system error carries errno as its reason ("No such file or directory").
                entries.append(Entry(code: code, text: String(cString: strerror(Int32(code & ~systemErrorFlag)))))
            } else if let reason = ERR_reason_error_string(code) {
                entries.append(Entry(code: code, text: String(cString: reason)))
            } else {
                var buffer = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buffer, buffer.count)
                entries.append(Entry(code: code, text: String(cString: buffer)))
            }
        }
        return entries
    }

    /// ERR_SYSTEM_FLAG (a cast macro Swift does not import).
    static let systemErrorFlag: UInt = 0x8000_0000

    /// The texts of `entries` without repeats, and without OpenSSL's generic "system lib"
    /// when the system error itself is there.
    static func texts(_ entries: [Entry]) -> [String] {
        let hasSystemError = entries.contains { $0.code & systemErrorFlag != 0 }
        var seen: [String] = []
        for entry in entries where !seen.contains(entry.text) {
            if hasSystemError && entry.code & systemErrorFlag == 0 && entry.reason == ERR_R_SYS_LIB { continue }
            seen.append(entry.text)
        }
        return seen
    }

    /// The texts of `drainEntries()`, as `texts(_:)` gives them.
    static func drain() -> [String] { texts(drainEntries()) }

    /// `what` followed by the queue's texts (e.g. "could not load certificate file "/x": No such file or directory").
    static func message(_ what: String) -> String {
        let texts = drain()
        return texts.isEmpty ? what : "\(what): \(texts.joined(separator: "; "))"
    }
}
