// SluiceBench: the command line (options, checks) and the run-each-target-then-report sequence.
import ArgumentParser
import Foundation

struct SluiceBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice-bench",
        abstract: "Load generator for PostgreSQL and connection poolers (Sluice, PgBouncer).",
        discussion: """
            Runs one workload against --url, or the same workload against each --compare NAME=URL[@PID] \
            in turn, and prints a Markdown table (ratios to the first target). Exit status 2: bad \
            arguments, a bad URL or a server that cannot be reached.
            """)

    @Option(help: "PostgreSQL URL or conninfo string to load.")
    var url: String?

    @Option(name: .customLong("compare"), help: ArgumentHelp(
        "NAME=URL or NAME=URL@PID; repeat to compare targets (run one after another).", valueName: "name=url[@pid]"))
    var compare: [String] = []

    @Option(help: "Workload: \(WorkloadKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var workload: WorkloadKind = .select

    @Option(name: .customLong("protocol"), help: "Query protocol: simple, extended or prepared.")
    var queryProtocol: QueryProtocol = .simple

    @Option(help: "Busy client connections.")
    var clients = 10

    @Option(help: "Threads driving the clients (each polls its share with non-blocking libpq).")
    var threads = 2

    @Option(help: "Measured seconds per target.")
    var duration: Double = 10

    @Option(help: "Seconds of load before measuring starts.")
    var warmup: Double = 1

    @Option(help: "idle-plus-busy: connections opened and held idle.")
    var idle = 100

    @Option(help: "long-tx: seconds each transaction sleeps (pg_sleep).")
    var sleep: Double = 1

    @Option(help: "large: bytes in the one value each query returns.")
    var rowBytes = 1_048_576

    @Option(help: "burst: transactions each short-lived client runs before it disconnects.")
    var txPerClient = 10

    @Option(help: "Seconds allowed to open one connection.")
    var connectTimeout = 10

    @Option(help: "Seconds to pause between compared targets.")
    var pause: Double = 1

    @Option(help: "Refuse runs that would open more connections than this.")
    var maxConnections = 20_000

    @Option(help: "Process to sample (CPU time, RSS) with --url, e.g. the proxy's pid.")
    var proxyPid: Int32?

    @Option(help: "Also write the report as JSON to this file.")
    var json: String?

    @Option(help: "Also write the Markdown table to this file.")
    var markdown: String?

    @Option(help: ArgumentHelp("""
        Also write an HTML report (latency percentile curves, throughput, proxy CPU and RSS over time, the table; \
        inline SVG, nothing fetched). With --compare it defaults to the --json or --markdown path with .html.
        """, valueName: "file.html"))
    var report: String?

    func run() throws {
        do {
            try execute()
        } catch let failure as UsageFailure {
            FileHandle.standardError.write(Data("sluice-bench: \(failure.description)\n".utf8))
            throw ExitCode(2)
        }
    }

    private func execute() throws {
        let targets = try parseTargets()
        try checkLimits()
        if let report, !report.lowercased().hasSuffix(".html") {
            throw UsageFailure("--report must name an .html file, got \(report)")
        }
        raiseOpenFileLimit(to: clients + (workload == .idlePlusBusy ? idle : 0) + 64)
        let threadCount = min(threads, clients)
        var plans: [WorkloadPlan] = []
        for target in targets {
            let parameters = ConnectionParameters(url: target.url, connectTimeoutSeconds: connectTimeout)
            let scale = try Preflight.check(target, parameters: parameters, kind: workload)
            plans.append(WorkloadPlan(kind: workload, queryProtocol: queryProtocol, scale: scale,
                                      sleepSeconds: sleep, rowBytes: rowBytes, transactionsPerConnection: txPerClient))
        }
        let settings = RunSettings(clients: clients, threads: threadCount,
                                   idle: workload == .idlePlusBusy ? idle : 0, durationSeconds: duration,
                                   warmupSeconds: warmup, connectTimeoutSeconds: connectTimeout)
        var results: [RunResult] = []
        for (index, target) in targets.enumerated() {
            if index > 0, pause > 0 { usleep(UInt32(pause * 1e6)) }
            FileHandle.standardError.write(Data("[\(target.name)] \(workload.rawValue) against \(target.redactedURL)\n".utf8))
            results.append(Runner.run(target: target, plan: plans[index], settings: settings))
        }
        let outcome = BenchReport(parameters: runParameters(threads: threadCount), runs: results)
        let table = MarkdownReport(report: outcome).render()
        print(table, terminator: "")
        if let markdown { try write(Data(table.utf8), to: markdown) }
        if let json { try write(outcome.json(), to: json) }
        if let path = reportPath {
            let page = HTMLReport(report: outcome, commandLine: Self.commandLine(secrets: targets.flatMap(\.secrets)))
            try write(Data(page.render().utf8), to: path)
            FileHandle.standardError.write(Data("report: \(path)\n".utf8))
        }
    }

    /// --report, or with --compare the --json (else --markdown) path with its extension replaced by .html.
    var reportPath: String? {
        if let report { return report }
        guard !compare.isEmpty, let base = json ?? markdown else { return nil }
        let url = URL(fileURLWithPath: base)
        return url.pathExtension.isEmpty ? base + ".html" : url.deletingPathExtension().appendingPathExtension("html").path
    }

    /// This process's arguments, shell-quoted where needed, passwords hidden.
    static func commandLine(secrets: [String]) -> String {
        let words = CommandLine.arguments.enumerated().map { index, argument -> String in
            let word = index == 0 ? "sluice-bench" : Redaction.redact(argument, secrets: secrets)
            let plain = word.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./:=@%+,".unicodeScalars.contains($0) }
            return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
        return words.joined(separator: " ")
    }

    private func parseTargets() throws -> [Target] {
        switch (url, compare.isEmpty) {
        case (nil, true):
            throw UsageFailure("give --url URL, or --compare NAME=URL[@PID] (repeatable)")
        case (.some, false):
            throw UsageFailure("give either --url or --compare, not both")
        case (.some(let url), true):
            return [try Target(name: "run", url: url, pid: proxyPid)]
        case (nil, false):
            if proxyPid != nil { throw UsageFailure("with --compare, give each pid as NAME=URL@PID") }
            let targets = try compare.map(Target.parseCompare)
            let names = targets.map(\.name)
            if Set(names).count != names.count { throw UsageFailure("--compare names must differ: \(names)") }
            return targets
        }
    }

    private func checkLimits() throws {
        guard clients >= 1, threads >= 1 else { throw UsageFailure("--clients and --threads must be at least 1") }
        guard duration > 0, warmup >= 0, pause >= 0 else {
            throw UsageFailure("--duration must be positive, --warmup and --pause not negative")
        }
        guard idle >= 0, sleep >= 0, txPerClient >= 1, connectTimeout >= 1 else {
            throw UsageFailure("--idle and --sleep must not be negative, --tx-per-client and --connect-timeout at least 1")
        }
        guard (1...(1 << 30)).contains(rowBytes) else { throw UsageFailure("--row-bytes must be 1…1073741824") }
        let connections = clients + (workload == .idlePlusBusy ? idle : 0)
        guard connections <= maxConnections else {
            throw UsageFailure("this run would open \(connections) connections, over --max-connections \(maxConnections)")
        }
    }

    private func runParameters(threads: Int) -> RunParameters {
        RunParameters(workload: workload, protocol: queryProtocol, clients: clients, threads: threads,
                      durationSeconds: duration, warmupSeconds: warmup,
                      idle: workload == .idlePlusBusy ? idle : nil,
                      sleepSeconds: workload == .longTransaction ? sleep : nil,
                      rowBytes: workload == .large ? rowBytes : nil,
                      txPerClient: workload == .burst ? txPerClient : nil)
    }

    private func write(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw UsageFailure("could not write \(path): \(error.localizedDescription)")
        }
    }
}

/// Raises the soft open-files limit toward the hard one so thousands of connections fit.
private func raiseOpenFileLimit(to wanted: Int) {
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    let target = min(limit.rlim_max, max(limit.rlim_cur, rlim_t(wanted)))
    guard target > limit.rlim_cur else { return }
    limit.rlim_cur = target
    _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
}
