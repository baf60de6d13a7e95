// BenchClient: one non-blocking libpq connection's life: connect, prepare, transactions, reconnect.
import CLibpq
import Foundation

/// Driven by its `Worker`'s poll loop: `tick` for time, `handle` for socket readiness.
/// Never blocks; every libpq call is made in non-blocking mode.
final class BenchClient {
    enum Role {
        /// Runs transactions back to back.
        case busy
        /// Connects and then holds the connection without sending anything.
        case idle
    }

    enum State {
        /// Not connected; (re)connect at the given time.
        case waiting(until: UInt64)
        /// `PQconnectPoll` in progress; `since` bounds it by the connect timeout.
        case connecting(since: UInt64)
        /// Preparing the workload's statement `index` (prepared protocol).
        case preparing(index: Int)
        /// Connected, nothing in flight.
        case ready
        /// Statement `step` of the current transaction in flight.
        case running(step: Int)
        /// A statement failed inside a transaction block; ROLLBACK in flight.
        case rollingBack
    }

    static let reconnectBackoff: UInt64 = 100_000_000

    let role: Role
    let plan: WorkloadPlan
    let parameters: ConnectionParameters
    unowned let worker: Worker
    var connection: OpaquePointer?
    var state: State = .waiting(until: 0)
    /// Last `PQconnectPoll` answer asked for writability.
    var connectWantsWrite = true
    /// `PQflush` left bytes unsent; wait for writability too.
    var flushPending = false
    var steps: [Step] = []
    var transactionStart: UInt64 = 0
    var connectStart: UInt64 = 0
    var bytesThisTransaction = 0
    var transactionsOnConnection = 0
    /// First error of the statement or transaction in flight: (SQLSTATE, message).
    var failure: (code: String, message: String)?

    init(role: Role, plan: WorkloadPlan, parameters: ConnectionParameters, worker: Worker) {
        self.role = role
        self.plan = plan
        self.parameters = parameters
        self.worker = worker
    }

    /// The descriptor to poll, or -1 when the client waits only for time.
    var socketToPoll: Int32 {
        guard let connection else { return -1 }
        if case .waiting = state { return -1 }
        return PQsocket(connection)
    }

    var pollEvents: Int16 {
        switch state {
        case .waiting: return 0
        case .connecting: return Int16(connectWantsWrite ? POLLOUT : POLLIN)
        default: return Int16(POLLIN) | (flushPending ? Int16(POLLOUT) : 0)
        }
    }

    /// When `tick` next has something to do, if the client waits on time.
    var deadline: UInt64? {
        switch state {
        case .waiting(let until): return until
        case .connecting(let since): return since + worker.connectTimeout
        default: return nil
        }
    }

    /// Time-driven work: (re)connecting, the connect timeout, starting a transaction.
    func tick(now: UInt64) {
        switch state {
        case .waiting(let until) where now >= until:
            startConnecting(now: now)
        case .connecting(let since) where now >= since + worker.connectTimeout:
            connectionFailed(now: now, message: "timeout expired while connecting")
        case .ready where role == .busy:
            beginTransaction(now: now, startedAt: now)
        default:
            break
        }
    }

    /// Socket readiness from `poll`.
    func handle(revents: Int16, now: UInt64) {
        if case .connecting = state {
            continueConnecting(now: now)
            return
        }
        if flushPending, revents & Int16(POLLOUT) != 0, !flush(now: now) { return }
        if revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 { readable(now: now) }
    }

    private func startConnecting(now: UInt64) {
        connectStart = now
        connection = parameters.startConnection()
        guard let connection, PQstatus(connection) != CONNECTION_BAD else {
            connectionFailed(now: now, message: libpqErrorMessage(connection))
            return
        }
        // Verbose messages carry the SQLSTATE of errors sent during startup (e.g. 53300).
        PQsetErrorVerbosity(connection, PQERRORS_VERBOSE)
        PQsetNoticeReceiver(connection, asynchronousErrorReceived, Unmanaged.passUnretained(self).toOpaque())
        connectWantsWrite = true
        state = .connecting(since: now)
    }

    private func continueConnecting(now: UInt64) {
        switch PQconnectPoll(connection) {
        case PGRES_POLLING_READING: connectWantsWrite = false
        case PGRES_POLLING_WRITING: connectWantsWrite = true
        case PGRES_POLLING_OK: connected(now: now)
        default: connectionFailed(now: now, message: libpqErrorMessage(connection))
        }
    }

    private func connected(now: UInt64) {
        PQsetErrorVerbosity(connection, PQERRORS_DEFAULT)
        guard PQsetnonblocking(connection, 1) == 0 else {
            connectionFailed(now: now, message: libpqErrorMessage(connection))
            return
        }
        worker.connectionOpened(latency: now - connectStart, at: now, idle: role == .idle)
        transactionsOnConnection = 0
        flushPending = false
        failure = nil
        if role == .idle {
            state = .ready
        } else if plan.effectiveProtocol == .prepared, !plan.templates.isEmpty {
            state = .preparing(index: 0)
            sendPrepare(plan.templates[0], now: now)
        } else {
            beginTransaction(now: now, startedAt: plan.kind == .connect ? connectStart : now)
        }
    }

    /// Counts a failed connect or a lost connection, closes it and schedules a reconnect.
    func connectionFailed(now: UInt64, message: String) {
        let code = failure?.code ?? sqlstate(inVerboseMessage: message) ?? connectionFailureCode
        worker.failed(code: code, message: failure?.message ?? message, at: now)
        failure = nil
        close()
        state = .waiting(until: now + Self.reconnectBackoff)
    }

    /// Closes the connection (if any); the client then only waits.
    func close() {
        guard let connection else { return }
        if role == .idle, case .ready = state { worker.idleConnectionClosed() }
        PQfinish(connection)
        self.connection = nil
        flushPending = false
        state = .waiting(until: UInt64.max)
    }
}

/// libpq hands errors that arrive outside a query (e.g. `FATAL 57P01` when an administrator
/// terminates an idle connection) to the notice receiver: keep the first as the client's failure,
/// so the coming "connection closed" is counted under its real SQLSTATE, and print nothing.
private func asynchronousErrorReceived(_ context: UnsafeMutableRawPointer?, _ result: OpaquePointer?) {
    guard let context, let result,
          let severity = PQresultErrorField(result, Int32(UInt8(ascii: "V"))).map({ String(cString: $0) }),
          severity == "FATAL" || severity == "PANIC" || severity == "ERROR",
          let code = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map({ String(cString: $0) }) else { return }
    let client = Unmanaged<BenchClient>.fromOpaque(context).takeUnretainedValue()
    if client.failure == nil {
        let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? code
        client.failure = (code, message)
    }
}
