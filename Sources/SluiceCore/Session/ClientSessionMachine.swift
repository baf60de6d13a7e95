// ClientSessionMachine: a pooled client's session after login, as a pure state machine.
import PostgresWire
import SluiceConfig

/// Everything a `ClientConnection` decides once its client is logged in to a pool: whether it
/// holds a server, when its transaction started, whether the server may go back to the pool,
/// which settings it expects, and what it is told when its server is lost. A value: events come
/// in (named for what happened), actions come out; `ClientConnection` owns the only instance,
/// does the I/O and runs the actions. Times are loop milliseconds, passed in.
///
/// Events on the relay path (`messageScanned`, `requestScanned`, `requestForwarded`) return at
/// most one small value and allocate nothing.
struct ClientSessionMachine {
    enum Phase: Equatable {
        /// Holds no server.
        case idle
        /// Has a request to send and waits in the pool's queue.
        case waiting
        /// Holds a server.
        case linked
        case closed
    }

    enum Action: Equatable {
        /// Nothing to do.
        case none
        /// Take a server from the pool for the request that arrived (a lone Parse + Sync may be answered first).
        case acquireServer
        /// Drop the request's messages up to its Query or Sync and answer that with the saved error
        /// (`failedRequestMessageScanned` says message by message).
        case answerFailedRequest
        /// Send this FATAL error and close the connection (`reason` for the log and counters).
        case closeWithError(ErrorResponse, reason: String)
        /// Send this ERROR followed by `readyForQuery` ReadyForQuery 'I' messages.
        case sendError(ErrorResponse, readyForQuery: Int)
        /// Keep the client; its next request gets the error instead of a server (nothing to send now).
        case failNextRequest
        /// Count a transaction of `milliseconds`; `leakSuspectReleased`: log that the client
        /// reported as a leak suspect gave its server back.
        case recordTransaction(milliseconds: UInt64, leakSuspectReleased: Bool)
        /// Log that the client reported as a leak suspect let its server go by leaving, `heldMilliseconds` in.
        case reportLeakReleased(heldMilliseconds: UInt64)
    }

    /// What the relay should read in a message it forwards (`QueryInspector`); one byte.
    struct Inspection: OptionSet, Equatable {
        let rawValue: UInt8
        /// A Query or Parse: read it for session state (`SessionStateScan`); report
        /// `sessionStateScanned`, and in session mode a named Parse as `sessionStateBecameUnknown`.
        static let sessionState = Inspection(rawValue: 1)
        /// A Query sent while the server is outside a transaction: look for a lone SET; report `setQueryScanned`.
        static let setStatement = Inspection(rawValue: 2)
        /// Keep the Query's text for leak reports; report `queryCaptured`.
        static let captureQuery = Inspection(rawValue: 4)
        /// Keep the Parse's query text (after the statement name) for leak reports; report `queryCaptured`.
        static let captureParse = Inspection(rawValue: 8)
    }

    /// The database the client uses (named in the errors it gets).
    let database: String
    private(set) var phase: Phase = .idle
    /// The settings this client expects on whichever server it uses.
    private(set) var wanted: SessionParameters
    /// Extended-protocol messages sent since the last Sync: the server must stay.
    private(set) var unsynced = false
    /// When the current transaction started (first message after ReadyForQuery 'I'); nil when idle.
    private(set) var busySince: UInt64?
    /// When the last request was forwarded.
    private(set) var requestAt: UInt64 = 0
    /// When the current server was linked.
    private(set) var linkedAt: UInt64 = 0
    /// Already reported as a leak suspect in this hold.
    private(set) var leakReported = false
    /// The first 200 characters of the last statement (only with `log_leak_queries`).
    private(set) var lastQuery: String?
    /// A lone SET/RESET in flight; applied to `wanted` if it succeeds outside a transaction.
    private(set) var pendingSetStatement: SetStatement?
    /// Session mode: the client prepared named statements on its server, which Sluice does not
    /// replay on another one.
    private(set) var sessionStateUnknown = false
    /// Session state the client made on its server (temp tables, advisory locks, cursors WITH
    /// HOLD, SQL PREPARE, SET ROLE, set_config, LISTEN). Transaction mode: while not empty the
    /// client is pinned to its server, and the server is reset before anyone else gets it.
    private(set) var pins: SessionPins = []
    /// Kinds already reported (`sessionStateScanned` returns each kind once per client).
    private var pinsReported: SessionPins = []
    /// Cursors WITH HOLD and SQL prepared statements by name, so that closing the last one unpins.
    /// At most `maxNamed` each; past that only `CLOSE ALL`/`DEALLOCATE ALL`/`DISCARD ALL` unpin.
    private var holdCursors: Set<String> = []
    private var sqlPrepared: Set<String> = []
    private var namedOverflow: SessionPins = []
    static let maxNamed = 64
    /// What statements of the running transaction clear, applied when it commits.
    private var pendingClear: SessionStateEffect?
    /// The server died while this client was idle inside a transaction (or mid-batch): its next
    /// request gets this error (and ReadyForQuery) instead of reaching a server.
    private(set) var failNextRequest: ErrorResponse?

    init(database: String = "", wanted: SessionParameters = SessionParameters()) {
        self.database = database
        self.wanted = wanted
    }

    // MARK: holding a server

    /// The client has a request and the pool made it wait.
    mutating func waitStarted() {
        if phase == .idle { phase = .waiting }
    }

    /// The pool linked a server to this client.
    mutating func serverLinked(now: UInt64) {
        linkedAt = now
        phase = .linked
    }

    /// The server went back to the pool after a transaction.
    mutating func serverReleased() {
        phase = .idle
    }

    /// Whether the server may go back to the pool at ReadyForQuery 'I': transaction mode, no
    /// extended-protocol batch open, and no client message half-forwarded (`clientMidMessage`).
    func canReleaseServer(mode: PoolMode, clientMidMessage: Bool) -> Bool {
        mode == .transaction && !unsynced && !clientMidMessage && pins.isEmpty
    }

    /// A request arrived while the client holds no server.
    mutating func requestArrived() -> Action {
        guard phase == .idle else { return .none }
        return failNextRequest != nil ? .answerFailedRequest : .acquireServer
    }

    // MARK: the relay, client → server

    /// The relay scanned a client message's header: the first one after ReadyForQuery 'I'
    /// (other than Terminate) starts a transaction.
    mutating func messageScanned(type: UInt8, now: UInt64) {
        if busySince == nil && type != Terminate.typeCode { busySince = now }
    }

    /// The relay forwards this message as it is (a `DEALLOCATE` Sluice answers itself is not one).
    /// Query, Sync and FunctionCall close an extended-protocol batch; Parse, Bind, Describe,
    /// Execute and Close open one (Flush starts nothing: a Flush after Sync must not pin the
    /// server). Returns what to read in the message.
    mutating func requestScanned(type: UInt8, serverIdle: Bool, captureQueries: Bool) -> Inspection {
        var inspection: Inspection = []
        switch type {
        case Query.typeCode, Sync.typeCode, UInt8(ascii: "F"):
            unsynced = false
            guard type == Query.typeCode else { return inspection }
            inspection.insert(.sessionState)
            if captureQueries { inspection.insert(.captureQuery) }
            if serverIdle { inspection.insert(.setStatement) }
        case Parse.typeCode, Bind.typeCode, Describe.typeCode, Execute.typeCode, Close.typeCode:
            unsynced = true
            guard type == Parse.typeCode else { return inspection }
            inspection.insert(.sessionState)
            if captureQueries { inspection.insert(.captureParse) }
        default:
            break
        }
        return inspection
    }

    /// Session mode: the client prepared a named statement, which Sluice cannot rebuild on another server.
    mutating func sessionStateBecameUnknown() {
        sessionStateUnknown = true
    }

    /// A forwarded Query or Parse makes or clears session state (`SessionStateScan`). What it
    /// makes pins at once (even if it then fails: the safe side); what it clears waits for the
    /// transaction to commit (`setStatementCompleted`). Returns the kinds this client made for the
    /// first time, to be counted and logged once.
    mutating func sessionStateScanned(_ effect: SessionStateEffect) -> SessionPins {
        if !effect.pins.isEmpty {
            pins.formUnion(effect.pins)
            for name in effect.cursorsDeclared {
                if holdCursors.count < Self.maxNamed { holdCursors.insert(name) } else { namedOverflow.insert(.holdCursor) }
            }
            for name in effect.prepared {
                if sqlPrepared.count < Self.maxNamed { sqlPrepared.insert(name) } else { namedOverflow.insert(.sqlPrepare) }
            }
        }
        if !effect.clears.isEmpty || !effect.cursorsClosed.isEmpty || !effect.deallocated.isEmpty {
            var pending = pendingClear ?? SessionStateEffect()
            pending.clears.formUnion(effect.clears)
            pending.cursorsClosed += effect.cursorsClosed.prefix(Self.maxNamed)
            pending.deallocated += effect.deallocated.prefix(Self.maxNamed)
            pendingClear = pending
        }
        let new = effect.pins.subtracting(pinsReported)
        pinsReported.formUnion(new)
        return new
    }

    /// Applies what a committed transaction cleared.
    private mutating func applyClear(_ clear: SessionStateEffect) {
        pins.subtract(clear.clears)
        if clear.clears.contains(.holdCursor) { holdCursors.removeAll(); namedOverflow.remove(.holdCursor) }
        if clear.clears.contains(.sqlPrepare) { sqlPrepared.removeAll(); namedOverflow.remove(.sqlPrepare) }
        for name in clear.cursorsClosed { holdCursors.remove(name) }
        for name in clear.deallocated { sqlPrepared.remove(name) }
        if holdCursors.isEmpty && !namedOverflow.contains(.holdCursor) { pins.remove(.holdCursor) }
        if sqlPrepared.isEmpty && !namedOverflow.contains(.sqlPrepare) { pins.remove(.sqlPrepare) }
        if pins.isEmpty { pinsReported = [] }
    }

    /// A Query starting with SET, RESET or DISCARD went to a server outside a transaction:
    /// `statement` (nil when it is not a lone form Sluice tracks) waits for its ReadyForQuery.
    mutating func setQueryScanned(_ statement: SetStatement?) {
        pendingSetStatement = statement
    }

    /// The text of the statement just forwarded, for leak reports.
    mutating func queryCaptured(_ text: String) {
        lastQuery = text
    }

    /// Bytes of a request went to the server.
    mutating func requestForwarded(now: UInt64) {
        requestAt = now
    }

    // MARK: the server's replies

    /// A ReadyForQuery ended the lone SET/RESET the client sent (if any): returns it when it took
    /// effect (`applied`: outside a transaction, no error), after applying it to `wanted`.
    /// `failed`: an error, or a failed transaction block ('E'). Also settles what the transaction's
    /// statements cleared of the session state: applied at commit, dropped on failure, kept in a
    /// transaction block.
    @inline(__always) mutating func setStatementCompleted(applied: Bool, failed: Bool = false) -> SetStatement? {
        if let clear = pendingClear {
            if applied { applyClear(clear); pendingClear = nil } else if failed { pendingClear = nil }
        }
        guard let statement = pendingSetStatement else { return nil }
        pendingSetStatement = nil
        guard applied else { return nil }
        wanted.apply(statement)
        return statement
    }

    /// The server's spelling of the client's settings is known (login): use it from now on.
    mutating func parametersCanonicalized(_ canonical: [String: String]) {
        wanted.adoptCanonical(canonical)
    }

    /// A ParameterStatus passed through: the client now wants that value wherever it goes.
    mutating func parameterReported(name: String, value: String) {
        wanted[name] = value
    }

    /// What the end of a transaction asks for.
    struct TransactionEnd: Equatable {
        /// `.recordTransaction` (or `.none` when no transaction was being timed).
        var action: Action
        /// The server may go back to the pool now (`canReleaseServer`).
        var releaseServer: Bool
    }

    /// The server reached ReadyForQuery 'I' with nothing outstanding: the transaction is over.
    /// One event for the recording and the release decision, so the relay asks through a
    /// mutating access (a non-mutating call on the class's stored machine copied all of it).
    mutating func transactionWentIdle(now: UInt64, mode: PoolMode, clientMidMessage: Bool) -> TransactionEnd {
        let releaseServer = canReleaseServer(mode: mode, clientMidMessage: clientMidMessage)
        guard let started = busySince else { return TransactionEnd(action: .none, releaseServer: releaseServer) }
        busySince = nil
        let leakSuspectReleased = leakReported
        leakReported = false
        return TransactionEnd(action: .recordTransaction(milliseconds: now - started, leakSuspectReleased: leakSuspectReleased),
                              releaseServer: releaseServer)
    }

    /// The janitor reported this client as a leak suspect: not again in this hold.
    mutating func becameLeakSuspect() {
        leakReported = true
    }

    /// Seconds the current transaction has held its server (nil when idle).
    func heldSeconds(now: UInt64) -> Double? {
        busySince.map { Double(now - $0) / 1000 }
    }

    // MARK: losing the server

    /// The server died under this client (`reason` for the error). Whatever can be hidden is: an
    /// idle client just gets a new server next time; a client waiting for results
    /// (`pendingReadyForQuery`) gets an ERROR for those requests and stays; one idle inside a
    /// transaction or an open batch gets the ERROR at its next request. Only a client whose stream
    /// was cut mid-message (the server's reply, `midMessage`, or the client's request,
    /// `clientMidMessage`), or a session-mode client whose state cannot be rebuilt, is closed.
    /// With `server_loss = "close"` (`policy`) nothing is hidden: the client is closed with the
    /// server's own FATAL (`serverError`) when it sent one, as PostgreSQL closes a direct client.
    mutating func serverLost(reason: String, midMessage: Bool, clientMidMessage: Bool, pendingReadyForQuery: Int,
                             inTransaction: Bool, mode: PoolMode, policy: ServerLoss = .recover,
                             serverError: ErrorResponse? = nil) -> Action {
        guard phase != .closed else { return .none }
        if policy == .close, let serverError { return .closeWithError(serverError, reason: "server_lost") }
        let rebuildable = policy == .recover && pins.isEmpty && (mode == .transaction || !sessionStateUnknown)
        guard !midMessage, !clientMidMessage, rebuildable else {
            return .closeWithError(ErrorResponse(severity: .fatal, code: SQLState.connectionFailure,
                                                 message: "server connection of database \"\(database)\" was lost (\(reason))"),
                                   reason: "server_lost")
        }
        busySince = nil
        leakReported = false
        pendingSetStatement = nil
        phase = .idle
        let error = ErrorResponse(severity: .error, code: SQLState.connectionFailure,
                                  message: "server connection of database \"\(database)\" was lost (\(reason)); the transaction was rolled back",
                                  hint: "The statement was not retried. Run it again: a new server connection will be used.")
        if pendingReadyForQuery > 0 {
            unsynced = false
            return .sendError(error, readyForQuery: pendingReadyForQuery)
        }
        if inTransaction || unsynced {
            failNextRequest = error
            return .failNextRequest
        }
        return .none
    }

    /// Whether the next request is answered with the error of a lost transaction.
    var failsNextRequest: Bool { @inline(__always) get { failNextRequest != nil } }

    /// A whole message of the request that must fail was taken off the input: it is dropped,
    /// and the request's Query or Sync is answered with the saved ERROR and ReadyForQuery 'I'.
    mutating func failedRequestMessageScanned(type: UInt8) -> Action {
        guard let error = failNextRequest, type == Query.typeCode || type == Sync.typeCode else { return .none }
        failNextRequest = nil
        unsynced = false
        return .sendError(error, readyForQuery: 1)
    }

    // MARK: closing

    /// The connection closed (the client left, or Sluice closed it).
    mutating func connectionClosed(now: UInt64) -> Action {
        phase = .closed
        guard leakReported, let started = busySince else { return .none }
        leakReported = false
        return .reportLeakReleased(heldMilliseconds: now &- started)
    }
}
