// Formatting: how console values are written (timestamps, second/microsecond splits, socket ids).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `2024-05-01 12:34:56 UTC`, as PgBouncer writes `connect_time` and `request_time`; NULL for 0.
func formatTimestamp(_ unixTime: Double) -> String? {
    guard unixTime > 0, unixTime.isFinite else { return nil }
    var seconds = time_t(unixTime.rounded(.down))
    var parts = tm()
    guard gmtime_r(&seconds, &parts) != nil else { return nil }
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
}

/// Whole seconds and the remaining microseconds, as PgBouncer's `wait`/`wait_us` and `maxwait`/`maxwait_us`.
func splitSeconds(_ seconds: Double) -> (seconds: Int, microseconds: Int) {
    guard seconds > 0, seconds.isFinite else { return (0, 0) }
    let micros = Int64(clamping: Int64((seconds * 1_000_000).rounded(.down)))
    return (Int(micros / 1_000_000), Int(micros % 1_000_000))
}

/// The `ptr` / `link` text of a client or server: its id in hex (ids are unique over both kinds).
func socketPointer(_ id: UInt64) -> String {
    "0x" + String(id, radix: 16)
}
