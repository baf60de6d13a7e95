// SluiceMicroBenchmarks: ordo-one/benchmark suites for the wire codec, SCRAM and the relay's steady state.
//
// Built only with SLUICE_MICROBENCH=1 (see Package.swift); run with scripts/microbench.
// Every benchmark reports wall clock, throughput, CPU time and mallocCountTotal (the malloc
// interposer's count of every allocation in the process, all threads, warm-up iterations excluded).
import Benchmark
import SluiceAdmin
#if canImport(Glibc)
import Glibc
#endif

/// CPU time of the whole process (every thread: the benchmark's client and the proxy's event loop),
/// from CLOCK_PROCESS_CPUTIME_ID around the measured loop. Used instead of the package's `cpuTotal`,
/// whose Linux collector reads /proc with 10 ms resolution and allocates 16 times per sample inside
/// the measured window (it would add 16 to every mallocCountTotal sample).
let cpuProcess = BenchmarkMetric.custom("CPU time, process (ns)", polarity: .prefersSmaller, useScalingFactor: true)

/// The metrics every benchmark in this suite reports.
let microMetrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal, cpuProcess]

@inline(__always)
func processCPUNanoseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return now.tv_sec * 1_000_000_000 + now.tv_nsec
}

/// Runs `body` and records the process CPU time it took as `cpuProcess`.
@inline(__always)
func measuringCPU(_ benchmark: Benchmark, _ body: () -> Void) {
    let start = processCPUNanoseconds()
    body()
    benchmark.measurement(cpuProcess, processCPUNanoseconds() - start)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: microMetrics,
                                           warmupIterations: 10,
                                           maxDuration: .seconds(2),
                                           maxIterations: 100_000)
    // The Prometheus backend the sluice binary installs: the relay's per-transaction timers
    // (pool wait, server hold, transaction duration) record into its histograms, as in production.
    _ = SluiceMetrics.bootstrap()
    registerCodecBenchmarks()
    registerSCRAMBenchmarks()
    registerRelayBenchmarks()
}
