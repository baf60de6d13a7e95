// ProcessSampler: CPU time and RSS of the proxy process, read from /proc/PID/stat and /proc/PID/status.
import Foundation

struct ProcessSample {
    /// User plus system CPU time, in microseconds.
    let cpuMicroseconds: UInt64
    /// Resident set size in KiB.
    let rssKilobytes: Int
}

final class ProcessSampler {
    let pid: Int32
    private let ticksPerSecond = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
    private(set) var peakRSSKilobytes = 0

    init(pid: Int32) { self.pid = pid }

    /// Reads the process now (nil if it has gone away) and updates the peak RSS.
    func sample() -> ProcessSample? {
        guard let cpu = cpuMicroseconds(), let rss = rssKilobytes() else { return nil }
        peakRSSKilobytes = max(peakRSSKilobytes, rss)
        return ProcessSample(cpuMicroseconds: cpu, rssKilobytes: rss)
    }

    /// utime + stime (fields 14 and 15 of /proc/PID/stat), converted from clock ticks.
    private func cpuMicroseconds() -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let closing = text.lastIndex(of: ")") else { return nil }
        // After "pid (comm)" the fields start at number 3 (state); utime is 14, stime 15.
        let fields = text[text.index(after: closing)...].split(separator: " ")
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return (user + system) * 1_000_000 / ticksPerSecond
    }

    /// `VmRSS:  12345 kB` from /proc/PID/status.
    private func rssKilobytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return words.count > 1 ? Int(words[1]) : nil
        }
        return nil
    }
}
