// Top: `sluice top`, a live terminal view of a running Sluice (data from SluiceTools' TopSource, text from TopScreen).
import ArgumentParser
import Foundation
import SluiceTools

struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Live view of a running Sluice: pools, clients holding servers, leak suspects, upstreams.",
        discussion: """
            Reads the admin console (SHOW POOLS, CLIENTS, LEAKS, DATABASES, CONFIG) over libpq as a user in \
            admin_users or stats_users, and /metrics (found through admin_listen) for the wait p99, the upstream \
            connect latency and the refusal counts. Refreshes every --interval seconds; q quits. --once prints one \
            frame without escapes and exits (1 when the console cannot be read). The password comes from the URL, \
            PGPASSWORD or ~/.pgpass, as for psql.
            """)

    @Option(help: ArgumentHelp("Admin console to read: a postgresql:// URL or conninfo string (libpq's PG* variables fill in the rest).",
                               valueName: "url"))
    var url = "host=127.0.0.1 port=6432 dbname=sluice"

    @Option(help: ArgumentHelp("Prometheus page to read (default: http://<admin_listen>/metrics from SHOW CONFIG).",
                               valueName: "url"))
    var metrics: String?

    @Flag(help: "Do not read /metrics (wait p99 and connect latency show -).")
    var noMetrics = false

    @Option(help: "Seconds between refreshes.")
    var interval: Double = 1

    @Flag(help: "Print one frame to stdout, without escapes, and exit.")
    var once = false

    @Option(help: "Columns for --once (default: the terminal's width, or 80 when stdout is not a terminal).")
    var width: Int?

    func validate() throws {
        guard interval >= 0.2, interval <= 3600 else { throw ValidationError("--interval must be between 0.2 and 3600 seconds") }
        if let width, !(20...1000).contains(width) { throw ValidationError("--width must be between 20 and 1000") }
        if noMetrics, metrics != nil { throw ValidationError("give either --metrics or --no-metrics, not both") }
        if let metrics, HTTPGet.parse(metrics) == nil {
            throw ValidationError("--metrics must be an http://host:port/path URL, got \(metrics)")
        }
    }

    func run() throws {
        if !once, isatty(STDIN_FILENO) != 1 || isatty(STDOUT_FILENO) != 1 {
            FileHandle.standardError.write(Data("sluice top: needs a terminal on stdin and stdout; use --once in scripts\n".utf8))
            throw ExitCode(2)
        }
        let source = TopSource(consoleURL: url, metricsURL: metrics, discoverMetrics: !noMetrics)
        if let failure = source.connect() {
            FileHandle.standardError.write(Data("sluice top: cannot read the admin console (\(redacted(url))): \(failure)\n".utf8))
            throw ExitCode(1)
        }
        if once {
            let frame = source.refresh(clock: Self.clock())
            if let problem = frame.problem {
                FileHandle.standardError.write(Data("sluice top: \(problem)\n".utf8))
                throw ExitCode(1)
            }
            let columns = width ?? TerminalScreen.size(of: STDOUT_FILENO)?.columns ?? 80
            let lines = TopScreen.render(frame, width: columns, height: nil)
            print(lines.map { $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) }
                .joined(separator: "\n"))
            return
        }
        let screen = try TerminalScreen()
        defer { screen.restore() }
        var frame = source.refresh(clock: Self.clock())
        screen.draw(frame)
        var next = Date().addingTimeInterval(interval)
        while true {
            switch screen.waitForEvent(until: next) {
            case .quit: return
            case .resized: screen.draw(frame)
            case .timeout:
                frame = source.refresh(clock: Self.clock())
                screen.draw(frame)
                next = max(next.addingTimeInterval(interval), Date().addingTimeInterval(interval / 2))
            }
        }
    }

    static func clock() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: Date())
    }

    /// The console URL with any password hidden.
    private func redacted(_ text: String) -> String {
        text.replacingOccurrences(of: "(://[^:/@]+):[^@]*@", with: "$1:****@", options: .regularExpression)
            .replacingOccurrences(of: "(password\\s*=\\s*)('[^']*'|\\S+)", with: "$1****", options: .regularExpression)
    }
}
