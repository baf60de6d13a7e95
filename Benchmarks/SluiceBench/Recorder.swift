// Recorder: what one worker thread measured (latencies, counts, errors by SQLSTATE); merged after the run.
import Foundation
import Histogram

/// The bucket connection failures are counted under when the server gave no SQLSTATE.
let connectionFailureCode = "08006"

struct Recorder {
    /// Transaction latency in microseconds (connect included for the `connect` workload).
    var latency = Recorder.makeHistogram()
    /// Time to open a connection (TCP, TLS, authentication) in microseconds.
    var connectLatency = Recorder.makeHistogram()
    var transactions = 0
    var bytesReceived = 0
    /// Connections opened successfully inside the measured window.
    var connectionsOpened = 0
    /// Failed transactions and connections by SQLSTATE.
    var errors: [String: Int] = [:]
    /// The first message seen for each SQLSTATE (password removed later, when printed).
    var errorSamples: [String: String] = [:]

    static func makeHistogram() -> Histogram<UInt64> {
        // 1 µs to 1 hour at three significant digits.
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000,
                          numberOfSignificantValueDigits: .three)
    }

    mutating func recordError(code: String, message: String) {
        errors[code, default: 0] += 1
        if errorSamples[code] == nil {
            // Verbose connect-time messages end with a LOCATION line (server source position): drop it.
            errorSamples[code] = message.split(whereSeparator: \.isNewline)
                .filter { !$0.hasPrefix("LOCATION:") }
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .joined(separator: " ")
        }
    }

    mutating func merge(_ other: Recorder) {
        latency.add(other.latency)
        connectLatency.add(other.connectLatency)
        transactions += other.transactions
        bytesReceived += other.bytesReceived
        connectionsOpened += other.connectionsOpened
        errors.merge(other.errors, uniquingKeysWith: +)
        errorSamples.merge(other.errorSamples) { first, _ in first }
    }
}
