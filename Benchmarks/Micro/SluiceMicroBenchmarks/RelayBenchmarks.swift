// RelayBenchmarks: allocations and time per relayed round trip through a real, in-process ProxyRuntime.
//
// The proxy runs on its own event loop thread (transaction pooling, pool_size 1) in front of the
// PostgreSQL at PGURL; the benchmark is the client, on a raw blocking socket with preallocated
// buffers. mallocCountTotal counts the whole process, so what a round trip allocates is the proxy's
// (the "direct" baseline shows the client side and the harness allocate nothing).
import Benchmark
import Dispatch
import Foundation
import Logging
import PostgresWire
import SluiceConfig
import SluiceCore
import SluiceIO
#if canImport(Glibc)
import Glibc
#endif

let defaultPGURL = "postgresql://app:app-secret@127.0.0.1:55460/app?sslmode=disable"

/// The relay's configuration: everything at its default except what the benchmark needs.
func relayConfig(upstream: String) throws -> SluiceConfig {
    let escaped = upstream.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    let toml = """
        [sluice]
        listen = "127.0.0.1:0"
        pool_mode = "transaction"
        default_pool_size = 1
        log_level = "warning"

        [databases.app]
        url = "\(escaped)"
        pool_size = 1
        """
    return try ConfigLoader.parse(toml: toml, file: "microbench.toml", environment: [:])
}

/// Pre-encoded requests and how many backend messages answer each.
enum RelayRequest {
    /// Query("SELECT 1"): RowDescription, DataRow, CommandComplete, ReadyForQuery.
    case simple
    /// Parse/Bind/Execute/Sync of the unnamed statement "SELECT 1":
    /// ParseComplete, BindComplete, DataRow, CommandComplete, ReadyForQuery.
    case extended

    var bytes: [UInt8] {
        var writer = MessageWriter()
        switch self {
        case .simple:
            writer.write(Query("SELECT 1"))
        case .extended:
            writer.write(Parse(statementName: "", query: "SELECT 1"))
            writer.write(Bind(portalName: "", statementName: "", parameters: []))
            writer.write(Execute(portalName: ""))
            writer.write(Sync())
        }
        return writer.bytes
    }

    var clientMessages: Int { self == .simple ? 1 : 4 }
    var backendMessages: Int { self == .simple ? 4 : 5 }
}

/// One proxy (or none, for the direct baseline) and one logged-in client, for one benchmark.
final class RelayHarness: @unchecked Sendable {
    let upstream: String
    let throughProxy: Bool
    private(set) var runtime: ProxyRuntime?
    private var client: RawClient?
    private var request = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var expectedMessages = 0
    private var mismatches = 0

    init(upstream: String, throughProxy: Bool) {
        self.upstream = upstream
        self.throughProxy = throughProxy
    }

    func start(_ kind: RelayRequest) throws {
        let config = try relayConfig(upstream: upstream)
        guard let database = config.databases["app"] else { throw RelaySetupError("no database in the config") }
        let url = database.url
        let address: SocketAddress
        if throughProxy {
            var logger = Logger(label: "sluice.microbench")
            logger.logLevel = .warning
            let runtime = try ProxyRuntime(config: config, logger: logger)
            self.runtime = runtime
            let startError: String? = runtime.loop.sync {
                do { try runtime.start(); return nil } catch { return "\(error)" }
            }
            if let startError { throw RelaySetupError("proxy did not start: \(startError)") }
            address = runtime.loop.sync { runtime.listenAddresses[0] }
        } else {
            guard let resolved = try SocketAddress.resolve(host: url.host, port: url.port).first else {
                throw RelaySetupError("cannot resolve \(url.host)")
            }
            address = resolved
        }
        let client = try RawClient(address: address)
        self.client = client
        // Through the proxy the client logs in to Sluice with the database URL's user and password
        // (Sluice verifies them with SCRAM), and Sluice logs in upstream with its pool connection.
        try client.login(user: url.user, database: throughProxy ? "app" : url.database, password: url.password ?? "")

        let bytes = kind.bytes
        request = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        request.copyBytes(from: bytes)
        expectedMessages = kind.backendMessages
        // One checked round trip before the benchmark's own warm-up.
        client.writeAll(request.baseAddress!, count: request.count)
        let got = client.readUntilReady()
        guard got == expectedMessages, client.errors == 0 else {
            throw RelaySetupError("unexpected reply: \(got) messages, \(client.errors) errors (expected \(expectedMessages), 0)")
        }
    }

    /// Writes the pre-encoded request and reads up to ReadyForQuery. Allocates nothing itself.
    @inline(__always)
    func roundTrip() {
        let client = client.unsafelyUnwrapped
        client.writeAll(request.baseAddress.unsafelyUnwrapped, count: request.count)
        if client.readUntilReady() != expectedMessages { mismatches &+= 1 }
    }

    func stop() {
        if let client {
            if client.errors > 0 || mismatches > 0 {
                fputs("SluiceMicroBenchmarks: relay saw \(client.errors) ErrorResponse(s) and \(mismatches) odd replies\n", stderr)
            }
            client.writeAll(Terminate().encoded)
            client.close()
        }
        client = nil
        if request.baseAddress != nil { request.deallocate() }
        request = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        if let runtime {
            let done = DispatchSemaphore(value: 0)
            runtime.loop.execute { runtime.shutdown { done.signal() } }
            _ = done.wait(timeout: .now() + 10)
        }
        // The runtime is kept alive: its loop's dispatch sources outlive shutdown.
    }
}

/// Whether something accepts TCP connections at the upstream of `url` (nil) or why not.
private func upstreamProblem(_ upstream: String) -> String? {
    let config: SluiceConfig
    do { config = try relayConfig(upstream: upstream) } catch { return "PGURL is not usable: \(error)" }
    guard let url = config.databases["app"]?.url else { return "PGURL is not usable" }
    guard let address = try? SocketAddress.resolve(host: url.host, port: url.port).first else {
        return "cannot resolve \(url.host)"
    }
    guard let fd = connectTCP(address, timeoutMilliseconds: 1_000) else { return "nothing listens at \(address)" }
    close(fd)
    return nil
}

/// Harnesses stay alive for the process: a runtime is never freed (see `stop`).
nonisolated(unsafe) private var harnesses: [RelayHarness] = []

func registerRelayBenchmarks() {
    let upstream = ProcessInfo.processInfo.environment["PGURL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultPGURL
    if let problem = upstreamProblem(upstream) {
        fputs("SluiceMicroBenchmarks: relay benchmarks SKIPPED: PostgreSQL unreachable (\(problem)); "
              + "start it with scripts/microbench or set PGURL\n", stderr)
        return
    }
    let perRoundTrip = Benchmark.Configuration(metrics: microMetrics, warmupIterations: 2_000,
                                               maxDuration: .seconds(5), maxIterations: 20_000)
    let perBatch = Benchmark.Configuration(metrics: microMetrics, warmupIterations: 20,
                                           maxDuration: .seconds(5), maxIterations: 300)

    func relay(_ name: String, _ kind: RelayRequest, throughProxy: Bool = true, batch: Int = 1,
               configuration: Benchmark.Configuration) {
        let harness = RelayHarness(upstream: upstream, throughProxy: throughProxy)
        harnesses.append(harness)
        Benchmark(name, configuration: configuration) { benchmark in
            measuringCPU(benchmark) {
                for _ in benchmark.scaledIterations {
                    for _ in 0..<batch { harness.roundTrip() }
                }
            }
        } setup: {
            try harness.start(kind)
        } teardown: {
            harness.stop()
        }
    }

    relay("Relay: simple Query SELECT 1 (per round trip)", .simple, configuration: perRoundTrip)
    relay("Relay: extended P/B/E/S SELECT 1 (per round trip)", .extended, configuration: perRoundTrip)
    relay("Relay: simple Query SELECT 1 (x100 round trips)", .simple, batch: 100, configuration: perBatch)
    relay("Relay: extended P/B/E/S SELECT 1 (x100 round trips)", .extended, batch: 100, configuration: perBatch)
    // Controls: the same client straight to PostgreSQL (the harness's own allocations: expected 0),
    // and the process with the proxy running but no traffic (background allocations per 200 µs).
    relay("Direct to PostgreSQL: simple Query SELECT 1 (x100, no proxy)", .simple, throughProxy: false, batch: 100,
          configuration: perBatch)

    let idle = RelayHarness(upstream: upstream, throughProxy: true)
    harnesses.append(idle)
    Benchmark("Relay: idle proxy, no traffic (200 µs sleep)", configuration: perRoundTrip) { benchmark in
        measuringCPU(benchmark) {
            for _ in benchmark.scaledIterations { usleep(200) }
        }
    } setup: {
        try idle.start(.simple)
    } teardown: {
        idle.stop()
    }
}
