// Doctor: `sluice doctor` checks every upstream — DNS, TCP, TLS, login, latency, capacity — and says what to fix.
import ArgumentParser
import Foundation
import SluiceConfig
import SluiceTools

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check that every database's upstream is reachable, and say what to fix when it is not.",
        discussion: "Exits 0 when every database is reachable (capacity warnings included), 1 otherwise.")

    @Option(name: .shortAndLong, help: "Path of the TOML config file (or SLUICE_CONFIG).")
    var config: String?

    @Option(help: "Seconds to wait for each step (resolve, connect, login).")
    var timeout: Double = 10

    @Option(help: "Sluice instances sharing the upstreams (checks pool_size × replicas against max_connections).")
    var replicas: Int = 1

    @Flag(help: "Print JSON instead of the table.")
    var json = false

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard replicas >= 1 else { throw ValidationError("--replicas must be at least 1") }
    }

    func run() throws {
        let loaded: SluiceConfig
        do { loaded = try loadConfig(path: config) } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
        let report = DoctorReport.run(config: loaded, timeout: timeout, replicas: replicas)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text, terminator: "")
        }
        if !report.ok { throw ExitCode(1) }
    }
}
