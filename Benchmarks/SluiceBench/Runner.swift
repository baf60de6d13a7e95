// Runner: one timed run against one target: start the worker threads, print progress, sample the proxy.
import Foundation

struct RunSettings {
    var clients: Int
    var threads: Int
    var idle: Int
    var durationSeconds: Double
    var warmupSeconds: Double
    var connectTimeoutSeconds: Int
}

enum Runner {
    /// Idle connections are opened this far apart, so holding thousands is not a login storm.
    static let idleConnectSpacing: UInt64 = 200_000

    static func run(target: Target, plan: WorkloadPlan, settings: RunSettings) -> RunResult {
        let parameters = ConnectionParameters(url: target.url, connectTimeoutSeconds: settings.connectTimeoutSeconds)
        let live = LiveCounters()
        let start = monotonicNanoseconds()
        let measureStart = start + nanoseconds(settings.warmupSeconds)
        let end = measureStart + nanoseconds(settings.durationSeconds)
        let connectTimeout = nanoseconds(Double(settings.connectTimeoutSeconds))
        func makeWorker(_ index: Int) -> Worker {
            Worker(measureStart: measureStart, end: end, connectTimeout: connectTimeout, live: live,
                   seed: start &+ UInt64(index) &* 0x9E37_79B9)
        }
        let workers = (0..<settings.threads).map(makeWorker)
        for client in 0..<settings.clients {
            workers[client % settings.threads].addClient(role: .busy, plan: plan, parameters: parameters)
        }
        // Idle connections get their own thread, so the busy threads' poll sets stay small.
        var allWorkers = workers
        if settings.idle > 0 {
            let holder = makeWorker(settings.threads)
            for index in 0..<settings.idle {
                holder.addClient(role: .idle, plan: plan, parameters: parameters)
                holder.clients[index].state = .waiting(until: start + UInt64(index) * idleConnectSpacing)
            }
            allWorkers.append(holder)
        }

        let sampler = target.pid.map(ProcessSampler.init)
        let firstSample = sampler?.sample()
        let group = DispatchGroup()
        for worker in allWorkers {
            group.enter()
            let thread = Thread { worker.run(); group.leave() }
            thread.name = "sluice-bench-\(target.name)"
            thread.start()
        }
        let (measureSample, endSample, timeline) = watch(target: target, live: live, sampler: sampler, idle: settings.idle,
                                               start: start, measureStart: measureStart, end: end)
        group.wait()

        var recorder = Recorder()
        allWorkers.forEach { recorder.merge($0.recorder) }
        var result = RunResult(target: target, plan: plan, recorder: recorder,
                               measuredSeconds: Double(end - measureStart) / 1e9)
        result.timeline = timeline
        if settings.idle > 0 { result.idleConnectionsHeld = measureSample.idleHeld }
        if let sampler {
            var usage = ProxyUsage(pid: sampler.pid, rssStartKilobytes: firstSample?.rssKilobytes,
                                   rssEndKilobytes: endSample?.rssKilobytes, rssPeakKilobytes: sampler.peakRSSKilobytes)
            if let from = measureSample.process, let to = endSample {
                let cpu = Double(to.cpuMicroseconds - from.cpuMicroseconds)
                usage.cpuSeconds = cpu / 1e6
                usage.cpuMicrosecondsPerTransaction = result.transactions > 0 ? cpu / Double(result.transactions) : nil
            }
            result.proxy = usage
        }
        return result
    }

    /// Sleeps through the run on the calling thread: RSS every 200 ms, a progress line and a timeline point
    /// every second, CPU samples at the start and end of the measured window. Returns those two samples
    /// and the timeline.
    private static func watch(target: Target, live: LiveCounters, sampler: ProcessSampler?, idle: Int,
                              start: UInt64, measureStart: UInt64, end: UInt64)
        -> (measure: (process: ProcessSample?, idleHeld: Int), end: ProcessSample?, timeline: [TimelinePoint]) {
        var timeline: [TimelinePoint] = []
        var lastProcess = sampler?.sample()
        var measureSample: ProcessSample?
        var measureTaken = measureStart <= start
        if measureTaken { measureSample = sampler?.sample() }
        var idleHeld = 0
        var nextProgress = start + 1_000_000_000
        var lastTransactions = 0, lastErrors = 0, lastProgress = start
        while true {
            let now = monotonicNanoseconds()
            if !measureTaken, now >= measureStart {
                measureSample = sampler?.sample()
                measureTaken = true
            }
            let finished = now >= end
            // A last line for the final (possibly partial) second, then stop.
            if now >= nextProgress || (finished && now - lastProgress >= 500_000_000) {
                let transactions = live.transactions, errors = live.errors
                let tps = Double(transactions - lastTransactions) / (Double(now - lastProgress) / 1e9)
                let phase = now < measureStart + 500_000_000 ? "warmup" : "\(Int((Double(now - measureStart) / 1e9).rounded()))s"
                var line = "[\(target.name)] \(phase)  tps=\(Int(tps.rounded()))  errors=\(errors - lastErrors)"
                if idle > 0 { line += "  idle=\(live.idleConnections)" }
                FileHandle.standardError.write(Data((line + "\n").utf8))
                var point = TimelinePoint(seconds: (Double(now) - Double(measureStart)) / 1e9, tps: tps,
                                          errors: errors - lastErrors)
                if let process = sampler?.sample() {
                    if let before = lastProcess, process.cpuMicroseconds >= before.cpuMicroseconds {
                        point.proxyCPUPercent = Double(process.cpuMicroseconds - before.cpuMicroseconds)
                            / (Double(now - lastProgress) / 1e3) * 100
                    }
                    point.proxyRSSMiB = Double(process.rssKilobytes) / 1_024
                    lastProcess = process
                }
                if timeline.count < 100_000 { timeline.append(point) }
                (lastTransactions, lastErrors, lastProgress) = (transactions, errors, now)
                nextProgress += 1_000_000_000
            }
            if finished { break }
            _ = sampler?.sample()
            var wake = min(now + 200_000_000, nextProgress, end)
            if !measureTaken { wake = min(wake, measureStart) }
            idleHeld = live.idleConnections
            usleep(UInt32(wake > now ? max(1_000, (wake - now) / 1_000) : 1_000))  // now may pass wake (slow loop)
        }
        return ((measureSample, idleHeld), sampler?.sample(), timeline)
    }
}
