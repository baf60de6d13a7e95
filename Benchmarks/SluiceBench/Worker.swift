// Worker: one thread's poll() loop over its share of clients, and the measurements it keeps.
import Foundation

/// Owns its clients and its `Recorder`; only its own thread touches them until `run` returns.
final class Worker {
    /// Start of the measured window (after warm-up) and end of the run, monotonic nanoseconds.
    let measureStart: UInt64
    let end: UInt64
    let connectTimeout: UInt64
    let live: LiveCounters
    var random: SplitMix64
    var recorder = Recorder()
    private(set) var clients: [BenchClient] = []

    init(measureStart: UInt64, end: UInt64, connectTimeout: UInt64, live: LiveCounters, seed: UInt64) {
        self.measureStart = measureStart
        self.end = end
        self.connectTimeout = connectTimeout
        self.live = live
        self.random = SplitMix64(seed: seed)
    }

    func addClient(role: BenchClient.Role, plan: WorkloadPlan, parameters: ConnectionParameters) {
        clients.append(BenchClient(role: role, plan: plan, parameters: parameters, worker: self))
    }

    private func inWindow(_ time: UInt64) -> Bool { time >= measureStart && time < end }

    func transactionCompleted(latency: UInt64, bytes: Int, at now: UInt64) {
        live.addTransaction()
        guard inWindow(now) else { return }
        recorder.transactions += 1
        recorder.bytesReceived += bytes
        recorder.latency.record(max(1, latency / 1_000))
    }

    func connectionOpened(latency: UInt64, at now: UInt64, idle: Bool) {
        if idle { live.idleConnectionChanged(by: 1) }
        guard inWindow(now) else { return }
        recorder.connectionsOpened += 1
        recorder.connectLatency.record(max(1, latency / 1_000))
    }

    func idleConnectionClosed() { live.idleConnectionChanged(by: -1) }

    func failed(code: String, message: String, at now: UInt64) {
        live.addError()
        guard inWindow(now) else { return }
        recorder.recordError(code: code, message: message)
    }

    /// Runs until `end`, then closes every connection.
    func run() {
        var descriptors = [pollfd](repeating: pollfd(fd: -1, events: 0, revents: 0), count: clients.count)
        while true {
            let now = monotonicNanoseconds()
            guard now < end else { break }
            var wait = min(end - now, 100_000_000)
            for (index, client) in clients.enumerated() {
                client.tick(now: now)
                descriptors[index] = pollfd(fd: client.socketToPoll, events: client.pollEvents, revents: 0)
                if let deadline = client.deadline {
                    wait = min(wait, deadline > now ? deadline - now : 0)
                }
            }
            let timeoutMilliseconds = Int32((wait + 999_999) / 1_000_000)
            let ready = poll(&descriptors, nfds_t(descriptors.count), timeoutMilliseconds)
            guard ready > 0 else { continue }
            let after = monotonicNanoseconds()
            for index in descriptors.indices where descriptors[index].revents != 0 {
                clients[index].handle(revents: descriptors[index].revents, now: after)
            }
        }
        clients.forEach { $0.close() }
    }
}
