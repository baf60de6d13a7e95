// LiveCounters: transaction and error totals the workers bump and the progress line reads once a second.
import Synchronization

/// Shared by every worker of one run; relaxed atomics, since the progress line needs no ordering.
final class LiveCounters: Sendable {
    private let transactionCount = Atomic<Int>(0)
    private let errorCount = Atomic<Int>(0)
    private let idleConnected = Atomic<Int>(0)

    func addTransaction() { transactionCount.wrappingAdd(1, ordering: .relaxed) }
    func addError() { errorCount.wrappingAdd(1, ordering: .relaxed) }
    func idleConnectionChanged(by delta: Int) { idleConnected.wrappingAdd(delta, ordering: .relaxed) }

    var transactions: Int { transactionCount.load(ordering: .relaxed) }
    var errors: Int { errorCount.load(ordering: .relaxed) }
    /// Idle connections (`idle-plus-busy`) currently open.
    var idleConnections: Int { idleConnected.load(ordering: .relaxed) }
}
