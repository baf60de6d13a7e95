// ServerSessionMachine: a server's session after login (transaction, requests in flight, prepared statements, internal queries) as a value type.
import PostgresWire

/// The decisions about one upstream session after login, without sockets: which replies are the
/// client's, which Sluice hides or answers itself, when the transaction is over, what a leaving
/// client leaves behind, and Sluice's own statement sequences. `ServerConnection` owns one, feeds it
/// events (named for what happened) and carries out the actions it returns (named for what to do).
///
/// The relay path (a ReadyForQuery per transaction, a Query or Sync per request, a reply per
/// message) gets payload-free results, so it copies and allocates nothing per message.
struct ServerSessionMachine {
    // MARK: actions

    /// What to do with a server message on the relay path.
    enum RelayAction: Equatable {
        /// Pass it on to the client.
        case forward
        /// The reply to a request Sluice added: send what came before it, drop it.
        case swallow
        /// Pass it on, then send the answers now due (`nextAnswer()` until nil).
        case forwardThenAnswer
        /// Drop it (as `swallow`), then send the answers now due.
        case swallowThenAnswer
        /// Pass it on; the transaction is over: tell the client, and give the server back if it may go.
        case forwardThenEndTransaction
    }

    /// What a ReadyForQuery on the relay path means (trivially copyable).
    struct ReadyForQueryAction: Equatable {
        /// Record this query time (nil: no request was being timed).
        var queryMilliseconds: UInt64?
        /// Tell the client whether its lone SET/RESET took effect (outside a transaction, no error).
        var settingApplied: Bool
        /// An error since the last ReadyForQuery, or a failed transaction block ('E').
        var failed: Bool
        /// Then: `.forward`, `.forwardThenAnswer` or `.forwardThenEndTransaction`.
        var next: RelayAction
    }

    /// One step of the answers Sluice gives the client itself.
    enum Answer: Equatable {
        case sendParseComplete
        case sendCloseComplete
        /// `DEALLOCATE name`'s CommandComplete and a ReadyForQuery with this status.
        case sendDeallocateComplete(TransactionStatus)
        /// The client's next LISTEN/UNLISTEN query's answer, given with this transaction status.
        case sendListenComplete(TransactionStatus)
        /// The transaction is over: tell the client, and give the server back if it may go.
        case endTransaction
    }

    /// What to do after a client request, an error or a timeout (off the per-message path).
    enum Action: Equatable {
        case none
        /// Send the answers now due at the head of the queue (`nextAnswer()` until nil).
        case sendAnswers
        /// Send Close for `evicting` (when set), then Parse `key` as `statement`; count a server-side Parse.
        case sendParse(statement: String, key: StatementKey, evicting: String?)
        /// The server skipped or failed these client Parses: the client has no such statements.
        case forgetClientStatements([String])
        /// The backend is going away (FATAL or PANIC): close the server; the client is not told this error.
        case closeServer(reason: String)
        /// Send a CancelRequest for the running query.
        case cancelQuery
    }

    /// What to do when the linked client leaves.
    enum LeaveAction: Equatable {
        /// A request or message is in flight: cancel the backend's work and close the server.
        case cancelAndClose(reason: String)
        /// Clean: give the server back to the pool.
        case release
        /// Run these statements first (ROLLBACK, server_reset_query), then report `cleanupFinished`.
        case runCleanup([String])
    }

    /// What to do when the statements run for a leaving client finished.
    enum CleanupAction: Equatable {
        case close(reason: String)
        /// Give the server back; `discardParameters`: the reset query dropped the session's settings.
        case release(discardParameters: Bool)
    }

    /// The next step of an internal statement sequence.
    enum InternalAction: Equatable {
        /// Send this statement as a simple Query.
        case sendQuery(String)
        /// The sequence is over: report its first error (nil: none) to whoever started it.
        case finish(ErrorResponse?)
    }

    // MARK: state (written only by the events below)

    /// From the last ReadyForQuery.
    private(set) var transactionStatus: TransactionStatus = .idle
    /// ReadyForQuery messages still owed for Query/Sync/FunctionCall messages forwarded.
    private(set) var pendingReadyForQuery = 0
    /// Loop time (ms) the oldest outstanding request was sent (for query_timeout); 0 when none.
    private(set) var queryStartedAt: UInt64 = 0
    /// query_timeout already fired for the running request.
    private(set) var queryTimeoutFired = false
    /// An ErrorResponse passed since the last ReadyForQuery.
    private(set) var sawError = false
    /// Requests in flight, in order (transaction mode with statement mapping; empty otherwise).
    private(set) var slots = SlotQueue()
    /// Shared statements prepared on this server.
    private(set) var statements = ServerStatements()
    /// After an ErrorResponse, the server ignores everything up to the next Sync: requests sent in
    /// that stretch get no reply and leave no statement behind.
    private(set) var skippingUntilSync = false
    /// `nextAnswer()` ends with `.endTransaction` if the transaction is over once the answers due are sent.
    private var endCheckDue = false
    /// Sluice's own statements, run one after another; replies are absorbed.
    private(set) var internalQueries: [String] = []
    private var nextInternalQuery = 0
    /// The first error of the internal sequence.
    private(set) var internalError: ErrorResponse?

    /// Requests are tracked (statement mapping is on and something is in flight).
    var tracksRequests: Bool { @inline(__always) get { !slots.isEmpty } }

    /// ReadyForQuery 'I' with nothing outstanding.
    private var transactionOver: Bool {
        pendingReadyForQuery == 0 && transactionStatus == .idle && slots.isEmpty
    }

    // MARK: linking

    /// The server was lent to a client: nothing is in flight.
    mutating func clientLinked() {
        pendingReadyForQuery = 0
        slots.removeAll()
        skippingUntilSync = false
        endCheckDue = false
    }

    /// The server went back to the pool.
    mutating func becameIdle() {
        slots.removeAll()
        endCheckDue = false
    }

    // MARK: client requests

    /// The client's Query, Sync or FunctionCall went to the server: one more ReadyForQuery is owed.
    @inline(__always) mutating func requestForwarded(now: UInt64) {
        if pendingReadyForQuery == 0 {
            queryStartedAt = now
            queryTimeoutFired = false
        }
        pendingReadyForQuery += 1
    }

    /// A request (or an answer Sluice gives itself) was queued. `.sendAnswers` when it is an
    /// answer now at the head; dropped when the server skips to the next Sync.
    mutating func requestQueued(_ slot: ResponseSlot) -> Action {
        if skippingUntilSync {
            if slot == .sync || slot == .query { skippingUntilSync = false } else { return .none }
        }
        slots.append(slot)
        return slot.isSynthetic && slots.first == slot ? .sendAnswers : .none
    }

    /// The client sent Parse for `name`: prepare it unless this server has it, evicting the least
    /// recently used statement at `limit`.
    mutating func parseRequested(_ name: String, key: StatementKey, clientName: String, limit: Int) -> Action {
        if skippingUntilSync { return .forgetClientStatements([clientName]) }  // the server skips it: no statement
        if statements.contains(name) {
            statements.touch(name)
            return requestQueued(.syntheticParseComplete)
        }
        let victim = evictIfFull(keeping: name, limit: limit)
        statements.touch(name)
        slots.append(.parse(serverName: name, clientName: clientName))
        return .sendParse(statement: name, key: key, evicting: victim)
    }

    /// A Bind or Describe needs `name` here: prepare it first unless present, its reply hidden.
    mutating func statementNeeded(_ name: String, key: StatementKey, limit: Int) -> Action {
        if skippingUntilSync { return .none }
        if statements.contains(name) { statements.touch(name); return .none }
        let victim = evictIfFull(keeping: name, limit: limit)
        statements.touch(name)
        slots.append(.hiddenParse(serverName: name))
        return .sendParse(statement: name, key: key, evicting: victim)
    }

    /// At `limit`, forgets the least recently used statement but `name` and queues its hidden Close.
    private mutating func evictIfFull(keeping name: String, limit: Int) -> String? {
        guard statements.count >= limit, let victim = statements.leastRecentlyUsed(keeping: name) else { return nil }
        statements.remove(victim)
        slots.append(.hiddenClose)
        return victim
    }

    /// query_timeout ran out for the running request: cancel it, once.
    mutating func queryTimedOut() -> Action {
        guard !queryTimeoutFired, pendingReadyForQuery > 0 else { return .none }
        queryTimeoutFired = true
        return .cancelQuery
    }

    // MARK: server replies (relay path)

    /// ReadyForQuery with `status` (its raw byte) at loop time `now` (ms).
    mutating func readyForQueryReceived(status: UInt8, now: UInt64) -> ReadyForQueryAction {
        transactionStatus = TransactionStatus(rawValue: status) ?? .idle
        if slots.headIsFinished(by: ReadyForQuery.typeCode) { slots.removeFirst() }
        if pendingReadyForQuery > 0 { pendingReadyForQuery -= 1 }
        let elapsed: UInt64? = queryStartedAt > 0 ? now &- queryStartedAt : nil
        queryStartedAt = pendingReadyForQuery == 0 ? 0 : now
        let applied = transactionStatus == .idle && !sawError
        let failed = sawError || transactionStatus == .failed
        sawError = false
        let next: RelayAction
        if slots.headIsSynthetic {
            endCheckDue = true
            next = .forwardThenAnswer
        } else {
            next = transactionOver ? .forwardThenEndTransaction : .forward
        }
        return ReadyForQueryAction(queryMilliseconds: elapsed, settingApplied: applied, failed: failed, next: next)
    }

    /// The client's lone SET/RESET/DISCARD ALL took effect.
    mutating func settingApplied(_ statement: SetStatement) {
        if statement == .resetAll { statements.removeAll() }
    }

    /// An ErrorResponse (`error` nil: too long to decode, or malformed).
    mutating func errorReceived(_ error: ErrorResponse?) -> Action {
        sawError = true
        if let error, error.severity == "FATAL" || error.severity == "PANIC" {
            return .closeServer(reason: "upstream_closed:\(error.code ?? "?")")
        }
        return requestFailed()
    }

    /// The head request failed: the server now skips to the next Sync, so the requests before it
    /// get no reply; client Parses among them leave no statement.
    private mutating func requestFailed() -> Action {
        guard let head = slots.first, head != .query else { return .none }
        var forgotten: [String] = []
        while let slot = slots.first, slot != .sync, slot != .query {
            slots.removeFirst()
            switch slot {
            case .parse(let serverName?, let clientName?):
                statements.remove(serverName)
                forgotten.append(clientName)
            case .hiddenParse(let serverName):
                statements.remove(serverName)
            default:
                break
            }
        }
        // No Sync sent yet: whatever the client sends before it is skipped by the server too.
        if slots.isEmpty { skippingUntilSync = true }
        return forgotten.isEmpty ? .none : .forgetClientStatements(forgotten)
    }

    /// `tag` ends the server's statements (`DEALLOCATE ALL`, `DISCARD ALL`).
    static func dropsAllStatements(tag: String) -> Bool { tag == "DEALLOCATE ALL" || tag == "DISCARD ALL" }

    /// CommandComplete (looked at only while requests are tracked); `droppedAllStatements` per `dropsAllStatements`.
    mutating func commandCompleteReceived(droppedAllStatements: Bool) -> RelayAction {
        if droppedAllStatements { statements.removeAll() }
        if slots.headIsFinished(by: CommandComplete.typeCode) { slots.removeFirst() }
        return slots.headIsSynthetic ? .forwardThenAnswer : .forward
    }

    /// ParseComplete or CloseComplete: the head request's reply, hidden if Sluice sent the request.
    mutating func parseOrCloseCompleteReceived() -> RelayAction {
        guard let head = slots.removeFirst() else { return .forward }
        let hidden: Bool
        switch head {
        case .hiddenParse, .hiddenClose: hidden = true
        default: hidden = false
        }
        if slots.headIsSynthetic { return hidden ? .swallowThenAnswer : .forwardThenAnswer }
        return hidden ? .swallow : .forward
    }

    /// Any other reply of `type`; `whole`: all of it is here (else the rest streams through).
    @inline(__always) mutating func replyReceived(type: UInt8, whole: Bool) -> RelayAction {
        guard slots.headIsFinished(by: type) else { return .forward }
        slots.removeFirst()
        return whole && slots.headIsSynthetic ? .forwardThenAnswer : .forward
    }

    /// `nextAnswer()` has something to give (checked before walking the answers on every request).
    var answersDue: Bool { @inline(__always) get { endCheckDue || slots.headIsSynthetic } }

    /// The next answer Sluice gives itself, now due at the head of the queue; nil when none is.
    mutating func nextAnswer() -> Answer? {
        if slots.headIsSynthetic, let head = slots.removeFirst() {
            switch head {
            case .syntheticParseComplete: return .sendParseComplete
            case .syntheticCloseComplete: return .sendCloseComplete
            case .syntheticListen:
                if transactionOver { endCheckDue = true }
                return .sendListenComplete(transactionStatus)
            default:
                if transactionOver { endCheckDue = true }
                return .sendDeallocateComplete(transactionStatus)
            }
        }
        if endCheckDue {
            endCheckDue = false
            if transactionOver { return .endTransaction }
        }
        return nil
    }

    // MARK: the client leaves

    /// The client left. `relaying`: no internal statements are running; `midMessage`: a message
    /// is partly sent either way or unread; `resetQuery`: the statement that cleans the session.
    mutating func clientLeft(relaying: Bool, midMessage: Bool, resetQuery: String?) -> LeaveAction {
        guard relaying, pendingReadyForQuery == 0, !midMessage, slots.isEmpty else {
            // The backend may be busy for a long time (pg_sleep, a big sort) and only notices a
            // closed socket when it next writes: cancel it so it stops and rolls back now.
            return .cancelAndClose(reason: "client_close_mid_query")
        }
        var cleanup: [String] = []
        if transactionStatus != .idle { cleanup.append("ROLLBACK") }
        if let resetQuery, !resetQuery.isEmpty { cleanup.append(resetQuery) }
        return cleanup.isEmpty ? .release : .runCleanup(cleanup)
    }

    /// The statements run for a leaving client finished; `reset`: a reset query (`DISCARD ALL`,
    /// server_reset_query) ran, so its prepared statements and settings are gone.
    mutating func cleanupFinished(failed: Bool, reset: Bool) -> CleanupAction {
        if failed { return .close(reason: "reset_failed") }
        if reset { statements.removeAll() }
        return .release(discardParameters: reset)
    }

    // MARK: internal statements

    /// Sluice starts its own statements (alignment, cleanup, health check); `queries` is not empty.
    mutating func internalQueriesStarted(_ queries: [String]) -> InternalAction {
        internalQueries = queries
        nextInternalQuery = 1
        internalError = nil
        return .sendQuery(queries[0])
    }

    /// An ErrorResponse during internal statements (nil: malformed); the first one is kept.
    mutating func internalErrorReceived(_ error: ErrorResponse?) {
        if internalError == nil { internalError = error }
    }

    /// ReadyForQuery during internal statements: the next one, or the end at the first error.
    mutating func internalReadyForQueryReceived(status: TransactionStatus) -> InternalAction {
        transactionStatus = status
        if internalError == nil && nextInternalQuery < internalQueries.count {
            nextInternalQuery += 1
            return .sendQuery(internalQueries[nextInternalQuery - 1])
        }
        internalQueries = []
        nextInternalQuery = 0
        return .finish(internalError)
    }
}
