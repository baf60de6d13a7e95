// WorkerGroup: `workers = N` event loops, each a ProxyRuntime with its own clients, servers and pools.
import Dispatch
import Foundation
import Logging
import SluiceConfig
import SluiceIO

/// The process's workers. Each worker is a `ProxyRuntime` on its own loop (a serial queue with
/// its own epoll set): it owns its clients, their servers and one pool per database holding its
/// share of the database's server connections (`PoolSettings.share`). Nothing on the relay path
/// is shared; what crosses workers goes as a message (`EventLoop.execute`):
///
/// - the first worker's listeners accept every connection and hand each one to the workers in
///   turn;
/// - client limits are one `ClientLimitBook` for the whole process (locked, touched at
///   connect/login/close only);
/// - a cancel request is routed to the worker its key's secret names (`secret % workers`), an admin
///   `KILL_CLIENT` to the worker its id names (`id % workers`); PAUSE/RESUME/KILL go to all;
/// - the admin console and `/metrics` see one snapshot merged from every worker's.
public final class WorkerGroup: @unchecked Sendable {
    public let runtimes: [ProxyRuntime]
    private let limits = ClientLimitBook()
    /// Per-application_name statistics of every worker.
    public let applications: ApplicationBook
    /// The worker the next accepted connection goes to (touched on the first loop only).
    private var nextWorker = 0

    public init(config: SluiceConfig, logger: Logger) throws {
        let count = max(config.workers, 1)
        applications = ApplicationBook(limit: config.metricsApplicationLimit, workers: count)
        var runtimes: [ProxyRuntime] = []
        for worker in 0..<count {
            var workerLogger = logger
            if count > 1 { workerLogger[metadataKey: "worker"] = "\(worker)" }
            runtimes.append(try ProxyRuntime(config: config, logger: workerLogger, worker: worker,
                                             workerCount: count, limits: limits, applications: applications))
        }
        self.runtimes = runtimes
        for runtime in runtimes { runtime.joined(self) }
    }

    public var first: ProxyRuntime { runtimes[0] }

    /// Starts every worker (call from outside the loops); only the first one listens, and it
    /// starts last, so no connection is handed to a worker that has no pools yet.
    public func start() throws {
        for runtime in runtimes.reversed() {
            var failure: Error?
            runtime.loop.sync { () -> Void in
                do { try runtime.start(listening: runtime.worker == 0) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }

    /// Hands an accepted connection to the next worker (called on the first worker's loop).
    func route(fd: Int32, peer: SocketAddress) {
        let target = runtimes[nextWorker]
        nextWorker = (nextWorker + 1) % runtimes.count
        if target === first {
            target.adopt(fd: fd, peer: peer)
        } else {
            target.loop.execute { target.adopt(fd: fd, peer: peer) }
        }
    }

    /// Gives a database's server parameters to the other workers' pools of it.
    func shareServerParameters(_ parameters: [(name: String, value: String)], database: String, from source: ProxyRuntime) {
        for runtime in runtimes where runtime !== source {
            runtime.loop.execute { runtime.pool(named: database)?.learnServerParameters(parameters) }
        }
    }

    func forwardCancel(processID: Int32, secretKey: UInt32) {
        let owner = runtimes[CancelKeys.worker(of: secretKey, workers: runtimes.count)]
        owner.loop.execute { owner.forwardCancel(processID: processID, secretKey: secretKey) }
    }

    /// Carries out an admin action where it applies: RELOAD and SHUTDOWN once for the process,
    /// KILL_CLIENT on the client's worker, the others on every worker.
    func perform(_ action: AdminAction) {
        switch action {
        case .reload, .shutdown:
            let first = self.first
            onLoop(of: first) { first.performLocally(action) }
        case .killClient(let id):
            let owner = runtimes[Int(id % UInt64(runtimes.count))]
            owner.loop.execute { owner.performLocally(action) }
        case .pause, .resume, .kill:
            for runtime in runtimes { runtime.loop.execute { runtime.performLocally(action) } }
        }
    }

    /// Applies a reloaded configuration on every worker (any thread).
    public func reload(_ config: SluiceConfig) {
        for runtime in runtimes { onLoop(of: runtime) { runtime.reload(config) } }
    }

    /// Runs `body` on `runtime`'s loop: now when already there (a console RELOAD or SIGHUP applies
    /// before the reply), else queued.
    private func onLoop(of runtime: ProxyRuntime, _ body: @escaping @Sendable () -> Void) {
        if runtime.loop.inLoop { body() } else { runtime.loop.execute(body) }
    }

    /// Shuts every worker down; `done` runs once, after the last one finished (any thread).
    public func shutdown(done: @escaping @Sendable () -> Void) {
        let remaining = Countdown(runtimes.count, then: done)
        for runtime in runtimes {
            runtime.loop.execute { runtime.shutdown { remaining.tick() } }
        }
    }

    /// Listening, not shutting down, no pool paused on any worker (call from outside the loops).
    public var isReady: Bool { runtimes.allSatisfy { runtime in runtime.loop.sync { runtime.isReady } } }

    /// One snapshot of the whole process (call from outside the loops).
    public func snapshot() -> ProxySnapshot {
        ProxySnapshot.merged(runtimes.map { runtime in runtime.loop.sync { runtime.snapshot() } })
    }

    /// The merged snapshot for a console session on `runtime`'s loop, without blocking that loop:
    /// each other worker takes its part on its own loop and posts it back.
    func gatherSnapshot(on runtime: ProxyRuntime, _ completion: @escaping (ProxySnapshot) -> Void) {
        let gathering = SnapshotGathering(count: runtimes.count, completion: completion)
        gathering.add(runtime.snapshot(), worker: runtime.worker)
        for other in runtimes where other !== runtime {
            other.loop.execute {
                let part = other.snapshot()
                runtime.loop.execute { gathering.add(part, worker: other.worker) }
            }
        }
    }
}

/// The parts of one merged snapshot as they arrive; touched on the asking worker's loop only.
private final class SnapshotGathering: @unchecked Sendable {
    private var parts: [ProxySnapshot?]
    private var missing: Int
    private let completion: (ProxySnapshot) -> Void
    init(count: Int, completion: @escaping (ProxySnapshot) -> Void) {
        parts = Array(repeating: nil, count: count)
        missing = count
        self.completion = completion
    }
    func add(_ part: ProxySnapshot, worker: Int) {
        parts[worker] = part
        missing -= 1
        if missing == 0 { completion(ProxySnapshot.merged(parts.compactMap { $0 })) }
    }
}

/// Calls `then` once `tick()` was called `count` times, from any threads.
private final class Countdown: @unchecked Sendable {
    private let lock = NSLock()
    private var count: Int
    private let then: @Sendable () -> Void
    init(_ count: Int, then: @escaping @Sendable () -> Void) {
        self.count = count
        self.then = then
    }
    func tick() {
        let finished: Bool = lock.withLock {
            count -= 1
            return count == 0
        }
        if finished { then() }
    }
}
