// Tests for ClientSessionMachine: event → action scripts for a pooled client's session, without sockets.
import XCTest
import PostgresWire
import SluiceConfig
@testable import SluiceCore

/// One client's session machine with a clock the test moves by hand; events return short strings.
private struct Script {
    var machine = ClientSessionMachine(database: "app", wanted: SessionParameters())
    var now: UInt64 = 1_000_000
    var mode: PoolMode
    /// Leak reports after 5 s, as `leak_detection_threshold = 5`.
    let janitor = ClientJanitor(clientIdleTimeout: 0, idleTransactionTimeout: 0, queryTimeout: 0, leakDetectionThreshold: 5)

    init(_ mode: PoolMode = .transaction) { self.mode = mode }

    mutating func advance(milliseconds: UInt64) { now += milliseconds }

    var phase: String { "\(machine.phase)" }

    /// A request arrives while the client holds no server.
    mutating func request() -> String { Self.describe(machine.requestArrived()) }
    mutating func waited() { machine.waitStarted() }
    mutating func linked() { machine.serverLinked(now: now) }
    mutating func released() { machine.serverReleased() }

    /// The relay forwards one message per letter (the message type); returns what each asks to be read, as `Q:set`.
    mutating func relay(_ types: String, serverIdle: Bool = true, captureQueries: Bool = false) -> [String] {
        types.utf8.map { type in
            machine.messageScanned(type: type, now: now)
            let inspection = type == Terminate.typeCode ? [] : machine.requestScanned(
                type: type, serverIdle: serverIdle, captureQueries: captureQueries)
            machine.requestForwarded(now: now)
            return "\(Character(Unicode.Scalar(type))):\(Self.describe(inspection))"
        }
    }

    func canRelease(clientMidMessage: Bool = false) -> Bool {
        machine.canReleaseServer(mode: mode, clientMidMessage: clientMidMessage)
    }

    /// ReadyForQuery 'I' with nothing outstanding.
    /// (Its release decision must be `canRelease()`'s.)
    mutating func wentIdle(file: StaticString = #filePath, line: UInt = #line) -> String {
        let canRelease = canRelease()
        let end = machine.transactionWentIdle(now: now, mode: mode, clientMidMessage: false)
        XCTAssertEqual(end.releaseServer, canRelease, "transactionWentIdle decides the release as canReleaseServer", file: file, line: line)
        return Self.describe(end.action)
    }

    mutating func lost(pending: Int = 0, inTransaction: Bool = false, midMessage: Bool = false,
                       clientMidMessage: Bool = false, policy: ServerLoss = .recover, serverError: ErrorResponse? = nil) -> String {
        Self.describe(machine.serverLost(reason: "upstream_closed:57P01", midMessage: midMessage, clientMidMessage: clientMidMessage,
                                         pendingReadyForQuery: pending, inTransaction: inTransaction, mode: mode,
                                         policy: policy, serverError: serverError))
    }

    /// Whole messages taken off the input while the next request must fail.
    mutating func failing(_ types: String) -> [String] {
        types.utf8.map { Self.describe(machine.failedRequestMessageScanned(type: $0)) }
    }

    mutating func closed() -> String { Self.describe(machine.connectionClosed(now: now)) }

    /// The janitor's once-a-second look: "suspect" when it reports this client now.
    mutating func janitorTick() -> String {
        let view = ClientJanitor.ClientView(state: .idle, lastReadAt: now, heldSeconds: machine.heldSeconds(now: now),
                                            leakReported: machine.leakReported)
        guard janitor.isNewLeakSuspect(view) else { return "-" }
        machine.becameLeakSuspect()
        return "suspect"
    }

    static func describe(_ action: ClientSessionMachine.Action) -> String {
        switch action {
        case .none: return "none"
        case .acquireServer: return "acquire"
        case .answerFailedRequest: return "answerFailed"
        case .closeWithError(let error, let reason): return "close \(error.severity ?? "") \(error.code ?? "") \(reason)"
        case .sendError(let error, let count): return "error \(error.severity ?? "") \(error.code ?? "") +\(count)Z"
        case .failNextRequest: return "failNext"
        case .recordTransaction(let milliseconds, let released):
            return "transaction \(milliseconds)ms" + (released ? " leakReleased" : "")
        case .reportLeakReleased(let milliseconds): return "leakReleased \(milliseconds)ms"
        }
    }

    static func describe(_ inspection: ClientSessionMachine.Inspection) -> String {
        var names: [String] = []
        if inspection.contains(.sessionState) { names.append("state") }
        if inspection.contains(.setStatement) { names.append("set") }
        if inspection.contains(.captureQuery) { names.append("query") }
        if inspection.contains(.captureParse) { names.append("parse") }
        return names.joined(separator: ",")
    }
}

final class ClientSessionMachineTests: XCTestCase {
    func testTransactionModeReleasesTheServerAtIdle() {
        var s = Script()
        XCTAssertEqual(s.request(), "acquire")
        s.waited()
        XCTAssertEqual(s.phase, "waiting")
        s.advance(milliseconds: 20)
        s.linked()
        XCTAssertEqual(s.phase, "linked")
        XCTAssertEqual(s.machine.linkedAt, 1_000_020)
        XCTAssertEqual(s.relay("Q"), ["Q:state,set"])
        XCTAssertEqual(s.machine.busySince, 1_000_020)
        XCTAssertTrue(s.canRelease())
        XCTAssertFalse(s.canRelease(clientMidMessage: true), "a request half-forwarded keeps the server")
        s.advance(milliseconds: 50)
        XCTAssertEqual(s.wentIdle(), "transaction 50ms")
        XCTAssertNil(s.machine.busySince)
        XCTAssertEqual(s.wentIdle(), "none", "one transaction is counted once")
        s.released()
        XCTAssertEqual(s.phase, "idle")
        XCTAssertEqual(s.request(), "acquire")
    }

    func testSessionModeKeepsTheServer() {
        var s = Script(.session)
        s.linked()
        XCTAssertEqual(s.relay("Q"), ["Q:state,set"])
        s.advance(milliseconds: 10)
        XCTAssertEqual(s.wentIdle(), "transaction 10ms")
        XCTAssertFalse(s.canRelease(), "session mode: the server stays until the client leaves")
        XCTAssertEqual(s.phase, "linked")
    }

    func testPipelinedExtendedMessagesKeepTheServerUntilSync() {
        var s = Script()
        s.linked()
        XCTAssertEqual(s.relay("PBDE"), ["P:state", "B:", "D:", "E:"])
        XCTAssertTrue(s.machine.unsynced)
        XCTAssertFalse(s.canRelease(), "an open batch pins the server")
        XCTAssertEqual(s.relay("H"), ["H:"])
        XCTAssertFalse(s.canRelease(), "Flush does not close a batch")
        XCTAssertEqual(s.relay("S"), ["S:"])
        XCTAssertTrue(s.canRelease())
        XCTAssertEqual(s.relay("PB"), ["P:state", "B:"])
        XCTAssertFalse(s.canRelease())
        XCTAssertEqual(s.relay("F"), ["F:"])
        XCTAssertTrue(s.canRelease(), "FunctionCall closes a batch like Sync")
        XCTAssertEqual(s.relay("C"), ["C:"])
        XCTAssertFalse(s.canRelease(), "Close opens one")
    }

    func testFlushAfterSyncDoesNotPinTheServer() {
        var s = Script()
        s.linked()
        _ = s.relay("PBES")
        XCTAssertEqual(s.relay("H"), ["H:"])
        XCTAssertFalse(s.machine.unsynced)
        XCTAssertTrue(s.canRelease())
    }

    func testTheTransactionStartsAtTheFirstMessageButNotAtTerminate() {
        var s = Script()
        s.linked()
        _ = s.relay("X")
        XCTAssertNil(s.machine.busySince)
        s.advance(milliseconds: 5)
        _ = s.relay("P")
        s.advance(milliseconds: 5)
        _ = s.relay("BES")
        XCTAssertEqual(s.machine.busySince, 1_000_005)
        XCTAssertEqual(s.machine.requestAt, 1_000_010)
        XCTAssertEqual(s.machine.heldSeconds(now: s.now + 990), 0.995)
    }

    func testInspectionsAskedOfTheRelay() {
        var s = Script(.session)
        s.linked()
        XCTAssertEqual(s.relay("QPBES", captureQueries: true), ["Q:state,set,query", "P:state,parse", "B:", "E:", "S:"])
        XCTAssertEqual(s.relay("Q", serverIdle: false), ["Q:state"], "no SET tracking inside a transaction")
        var t = Script(.transaction)
        XCTAssertEqual(t.relay("QP"), ["Q:state,set", "P:state"], "every mode reads statements for session state")
        t.machine.queryCaptured("select 1")
        XCTAssertEqual(t.machine.lastQuery, "select 1")
    }

    func testLoneSetIsAppliedOnlyOutsideATransactionAndWithoutError() {
        var s = Script()
        s.linked()
        let set = SetStatement.set(name: "search_path", sql: "SET search_path TO a")
        XCTAssertNil(s.machine.setStatementCompleted(applied: true), "nothing pending")
        s.machine.setQueryScanned(set)
        XCTAssertNil(s.machine.setStatementCompleted(applied: false), "inside a transaction or with an error: not applied")
        XCTAssertNil(s.machine.pendingSetStatement)
        XCTAssertNil(s.machine.wanted.statements["search_path"])
        s.machine.setQueryScanned(set)
        XCTAssertEqual(s.machine.setStatementCompleted(applied: true), set)
        XCTAssertEqual(s.machine.wanted.statements["search_path"], "SET search_path TO a")
        XCTAssertNil(s.machine.setStatementCompleted(applied: true), "applied once")
        s.machine.setQueryScanned(nil)
        XCTAssertNil(s.machine.setStatementCompleted(applied: true), "SET LOCAL and the like are not tracked")
        s.machine.setQueryScanned(.resetAll)
        XCTAssertEqual(s.machine.setStatementCompleted(applied: true), .resetAll)
        XCTAssertNil(s.machine.wanted.statements["search_path"])
    }

    func testParameterStatusBecomesWanted() {
        var s = Script()
        s.machine.parameterReported(name: "TimeZone", value: "UTC")
        XCTAssertEqual(s.machine.wanted["timezone"], "UTC")
    }

    func testServerLostWhileIdleKeepsTheClient() {
        var s = Script(.session)
        s.linked()
        _ = s.relay("Q")
        _ = s.wentIdle()
        XCTAssertEqual(s.lost(), "none")
        XCTAssertEqual(s.phase, "idle")
        XCTAssertEqual(s.request(), "acquire", "a new server next time")
    }

    func testServerLostWhileWaitingForResultsAnswersEveryPendingRequest() {
        var s = Script()
        s.linked()
        _ = s.relay("PBESPBES")
        _ = s.relay("PB")
        s.machine.setQueryScanned(.resetAll)
        XCTAssertEqual(s.lost(pending: 2, inTransaction: true), "error ERROR 08006 +2Z")
        XCTAssertEqual(s.phase, "idle")
        XCTAssertNil(s.machine.busySince)
        XCTAssertNil(s.machine.pendingSetStatement)
        XCTAssertFalse(s.machine.unsynced, "the batch was answered")
        XCTAssertEqual(s.request(), "acquire", "nothing is left to fail")
    }

    func testServerLostIdleInATransactionFailsTheNextRequest() {
        var s = Script()
        s.linked()
        _ = s.relay("Q")  // BEGIN
        _ = s.wentIdle()
        XCTAssertEqual(s.lost(inTransaction: true), "failNext")
        XCTAssertEqual(s.phase, "idle")
        XCTAssertEqual(s.request(), "answerFailed")
        XCTAssertEqual(s.failing("PBE"), ["none", "none", "none"], "the request's messages are dropped")
        XCTAssertEqual(s.failing("S"), ["error ERROR 08006 +1Z"])
        XCTAssertFalse(s.machine.failsNextRequest)
        XCTAssertEqual(s.request(), "acquire")
        XCTAssertEqual(s.failing("Q"), ["none"], "only one request fails")
    }

    func testServerLostMidBatchFailsTheNextRequest() {
        var s = Script()
        s.linked()
        _ = s.relay("PB")
        XCTAssertEqual(s.lost(), "failNext")
        XCTAssertEqual(s.request(), "answerFailed")
        XCTAssertEqual(s.failing("Q"), ["error ERROR 08006 +1Z"])
        XCTAssertFalse(s.machine.unsynced)
    }

    func testServerLostMidMessageClosesTheClient() {
        var s = Script()
        s.linked()
        _ = s.relay("Q")
        XCTAssertEqual(s.lost(pending: 1, midMessage: true), "close FATAL 08006 server_lost")
        var t = Script()
        t.linked()
        XCTAssertEqual(t.lost(pending: 1, clientMidMessage: true), "close FATAL 08006 server_lost")
        XCTAssertEqual(t.closed(), "none")
        XCTAssertEqual(t.phase, "closed")
    }

    func testServerLostInSessionModeWithUnknownStateClosesTheClient() {
        var s = Script(.session)
        s.linked()
        XCTAssertEqual(s.relay("P"), ["P:state"])
        s.machine.sessionStateBecameUnknown()  // a named Parse
        _ = s.wentIdle()
        XCTAssertEqual(s.lost(), "close FATAL 08006 server_lost")
        var t = Script(.transaction)
        t.linked()
        t.machine.sessionStateBecameUnknown()
        XCTAssertEqual(t.lost(), "none", "transaction mode rebuilds every unpinned session")
    }

    // MARK: pins

    func testSessionStatePinsUntilItIsClearedAtCommit() {
        var s = Script()
        s.linked()
        XCTAssertEqual(s.machine.sessionStateScanned(SessionStateScan.scan("create temp table t (v int)")), .tempTable,
                       "reported once, to be counted and logged")
        XCTAssertFalse(s.canRelease(), "pinned: the server stays at ReadyForQuery 'I'")
        XCTAssertEqual(s.machine.sessionStateScanned(SessionStateScan.scan("create temp table u (v int)")), [], "not again")
        XCTAssertEqual(s.machine.sessionStateScanned(SessionStateScan.scan("select pg_advisory_lock(1)")), .advisoryLock)
        XCTAssertEqual(s.machine.pins, [.tempTable, .advisoryLock])
        _ = s.machine.sessionStateScanned(SessionStateScan.scan("discard temp"))
        XCTAssertNil(s.machine.setStatementCompleted(applied: false, failed: false))
        XCTAssertEqual(s.machine.pins, [.tempTable, .advisoryLock], "inside a transaction block: not yet")
        XCTAssertNil(s.machine.setStatementCompleted(applied: true, failed: false))
        XCTAssertEqual(s.machine.pins, .advisoryLock, "committed")
        _ = s.machine.sessionStateScanned(SessionStateScan.scan("select pg_advisory_unlock_all()"))
        _ = s.machine.setStatementCompleted(applied: false, failed: true)
        XCTAssertEqual(s.machine.pins, .advisoryLock, "a failed statement clears nothing")
        _ = s.machine.setStatementCompleted(applied: true, failed: false)
        XCTAssertEqual(s.machine.pins, .advisoryLock, "and the failed clear is forgotten")
        _ = s.machine.sessionStateScanned(SessionStateScan.scan("select pg_advisory_unlock_all()"))
        _ = s.machine.setStatementCompleted(applied: true, failed: false)
        XCTAssertEqual(s.machine.pins, [])
        XCTAssertTrue(s.canRelease())
        XCTAssertEqual(s.machine.sessionStateScanned(SessionStateScan.scan("select pg_advisory_lock(2)")), .advisoryLock,
                       "a new pin after the last one was cleared is reported again")
    }

    func testCursorsAndPreparedStatementsUnpinWhenTheLastOneGoes() {
        var s = Script()
        s.linked()
        _ = s.machine.sessionStateScanned(SessionStateScan.scan("declare a cursor with hold for select 1; declare b cursor with hold for select 2"))
        _ = s.machine.sessionStateScanned(SessionStateScan.scan("close a"))
        _ = s.machine.setStatementCompleted(applied: true, failed: false)
        XCTAssertEqual(s.machine.pins, .holdCursor, "b is still open")
        _ = s.machine.sessionStateScanned(SessionStateScan.scan("CLOSE B"))
        _ = s.machine.setStatementCompleted(applied: true, failed: false)
        XCTAssertEqual(s.machine.pins, [])
        _ = s.machine.sessionStateScanned(SessionStateScan.scan("prepare p1 as select 1"))
        _ = s.machine.sessionStateScanned(SessionStateScan.scan("deallocate prepare p1"))
        _ = s.machine.setStatementCompleted(applied: true, failed: false)
        XCTAssertEqual(s.machine.pins, [])
        for n in 0...ClientSessionMachine.maxNamed {
            _ = s.machine.sessionStateScanned(SessionStateScan.scan("prepare p\(n) as select 1"))
        }
        for n in 0...ClientSessionMachine.maxNamed {
            _ = s.machine.sessionStateScanned(SessionStateScan.scan("deallocate p\(n)"))
        }
        _ = s.machine.setStatementCompleted(applied: true, failed: false)
        XCTAssertEqual(s.machine.pins, .sqlPrepare, "past maxNamed names, only DEALLOCATE ALL or DISCARD ALL unpins")
        _ = s.machine.sessionStateScanned(SessionStateScan.scan("discard all"))
        _ = s.machine.setStatementCompleted(applied: true, failed: false)
        XCTAssertEqual(s.machine.pins, [])
    }

    func testServerLostUnderAPinnedClientClosesIt() {
        var t = Script(.transaction)
        t.linked()
        _ = t.machine.sessionStateScanned(SessionStateScan.scan("set role reporting"))
        _ = t.wentIdle()
        XCTAssertEqual(t.lost(), "close FATAL 08006 server_lost", "its role cannot be rebuilt on another server")
    }

    func testServerLossCloseGivesTheServersOwnFatal() {
        let terminated = ErrorResponse(severity: .fatal, code: "57P01", message: "terminating connection due to administrator command")
        // An idle session-mode client whose state is known: recovered by default, closed with `close`.
        var s = Script(.session)
        s.linked()
        _ = s.relay("Q")
        _ = s.wentIdle()
        XCTAssertEqual(s.lost(policy: .close, serverError: terminated), "close FATAL 57P01 server_lost")
        var u = Script(.session)
        u.linked()
        guard case .closeWithError(let error, _) = u.machine.serverLost(
            reason: "upstream_closed:57P01", midMessage: false, clientMidMessage: false, pendingReadyForQuery: 0,
            inTransaction: false, mode: .session, policy: .close, serverError: terminated) else { return XCTFail("not closed") }
        XCTAssertEqual(error.message, "terminating connection due to administrator command", "the server's own words")
        // No FATAL from the server (EOF, a reset): 08006, still closed.
        var t = Script(.session)
        t.linked()
        XCTAssertEqual(t.lost(policy: .close), "close FATAL 08006 server_lost")
        // Transaction mode: a client linked when its server is lost is closed too, in flight or not.
        var x = Script(.transaction)
        x.linked()
        _ = x.relay("Q")
        XCTAssertEqual(x.lost(pending: 1, policy: .close, serverError: terminated), "close FATAL 57P01 server_lost")
        var y = Script(.transaction)
        y.linked()
        XCTAssertEqual(y.lost(policy: .close), "close FATAL 08006 server_lost")
        // recover keeps today's behaviour, whatever the server said.
        var r = Script(.session)
        r.linked()
        XCTAssertEqual(r.lost(policy: .recover, serverError: terminated), "none")
        var closed = Script(.session)
        closed.linked()
        _ = closed.closed()
        XCTAssertEqual(closed.lost(policy: .close, serverError: terminated), "none", "a closed client is told nothing")
    }

    func testCanonicalSpellingsReplaceTheClientsOwn() {
        var startup = SessionParameters()
        startup["client_encoding"] = "utf8"
        startup["search_path"] = "app"
        var s = Script()
        s.machine = ClientSessionMachine(database: "app", wanted: startup)
        s.machine.parametersCanonicalized(["client_encoding": "UTF8"])
        XCTAssertEqual(s.machine.wanted["client_encoding"], "UTF8")
        XCTAssertEqual(s.machine.wanted["search_path"], "app")
        s.machine.parametersCanonicalized(["timezone": "UTC"])
        XCTAssertNil(s.machine.wanted["timezone"], "only settings the client has")
    }

    func testClientLeavingMidTransaction() {
        var s = Script()
        s.linked()
        _ = s.relay("Q")  // BEGIN; the client never sends COMMIT
        s.advance(milliseconds: 1000)
        XCTAssertEqual(s.closed(), "none")
        XCTAssertEqual(s.phase, "closed")
        XCTAssertEqual(s.lost(inTransaction: true), "none", "a closed client is told nothing")
        XCTAssertEqual(s.request(), "none")

        var t = Script()
        t.linked()
        _ = t.relay("Q")
        t.advance(milliseconds: 6000)
        XCTAssertEqual(t.janitorTick(), "suspect")
        t.advance(milliseconds: 500)
        XCTAssertEqual(t.closed(), "leakReleased 6500ms", "a suspect that leaves is logged as released")
        XCTAssertEqual(t.closed(), "none")
    }

    func testLeakSuspectReportedOncePerHold() {
        var s = Script()
        s.linked()
        _ = s.relay("Q")
        s.advance(milliseconds: 4000)
        XCTAssertEqual(s.janitorTick(), "-")
        s.advance(milliseconds: 2000)
        XCTAssertEqual(s.janitorTick(), "suspect")
        s.advance(milliseconds: 1000)
        XCTAssertEqual(s.janitorTick(), "-", "not again in this hold")
        XCTAssertEqual(s.wentIdle(), "transaction 7000ms leakReleased")
        XCTAssertFalse(s.machine.leakReported)
        _ = s.relay("Q")
        s.advance(milliseconds: 5000)
        XCTAssertEqual(s.janitorTick(), "suspect", "a new hold can be reported again")
        XCTAssertEqual(s.lost(pending: 1), "error ERROR 08006 +1Z")
        XCTAssertFalse(s.machine.leakReported, "a lost server ends the hold")
        XCTAssertEqual(s.wentIdle(), "none")
    }

    func testWaitStartsOnlyFromIdle() {
        var s = Script()
        s.linked()
        s.waited()
        XCTAssertEqual(s.phase, "linked")
        s.released()
        s.waited()
        XCTAssertEqual(s.phase, "waiting")
        XCTAssertEqual(s.request(), "none", "a waiting client is not queued twice")
    }
}
