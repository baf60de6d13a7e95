// Tests for ServerSessionMachine: client requests and server replies in, actions out as short strings, without sockets.
import XCTest
import PostgresWire
@testable import SluiceCore

/// One server session with a clock the test moves by hand. Requests go in as ServerConnection
/// feeds them (a mapped Query or Sync is forwarded and queued); every event returns its action as text.
private struct Script {
    var machine = ServerSessionMachine()
    var now: UInt64 = 1000
    /// max_prepared_statements
    var limit = 100

    // MARK: client → server

    /// A Query/Sync/FunctionCall forwarded without statement mapping (nothing queued).
    mutating func forwarded() { machine.requestForwarded(now: now) }
    mutating func queue(_ slot: ResponseSlot) -> String { Self.text(machine.requestQueued(slot)) }
    mutating func query() -> String { forwarded(); return queue(.query) }
    mutating func sync() -> String { forwarded(); return queue(.sync) }
    mutating func parse(_ name: String, client: String) -> String {
        Self.text(machine.parseRequested(name, key: Self.key(name), clientName: client, limit: limit))
    }
    mutating func need(_ name: String) -> String { Self.text(machine.statementNeeded(name, key: Self.key(name), limit: limit)) }
    mutating func timedOut() -> String { Self.text(machine.queryTimedOut()) }

    /// Prepares `name` on the server in a batch of its own (Parse, Sync, ParseComplete, ReadyForQuery).
    mutating func prepared(_ name: String, client: String = "p") {
        XCTAssertEqual(parse(name, client: client), "parse \(name)")
        XCTAssertEqual(sync(), "none")
        XCTAssertEqual(parseComplete(), "forward")
        XCTAssertEqual(ready("I"), "forward+end 0ms applied")
    }

    // MARK: server → client

    mutating func ready(_ status: Character) -> String {
        let action = machine.readyForQueryReceived(status: status.asciiValue!, now: now)
        var words = [Self.text(action.next)]
        if let milliseconds = action.queryMilliseconds { words.append("\(milliseconds)ms") }
        if action.settingApplied { words.append("applied") }
        return words.joined(separator: " ")
    }
    mutating func reply(_ type: Character, whole: Bool = true) -> String {
        Self.text(machine.replyReceived(type: type.asciiValue!, whole: whole))
    }
    mutating func parseComplete() -> String { Self.text(machine.parseOrCloseCompleteReceived()) }
    mutating func closeComplete() -> String { Self.text(machine.parseOrCloseCompleteReceived()) }
    mutating func commandComplete(_ tag: String) -> String {
        Self.text(machine.commandCompleteReceived(droppedAllStatements: ServerSessionMachine.dropsAllStatements(tag: tag)))
    }
    mutating func error(_ severity: Severity = .error, code: String = "42601") -> String {
        Self.text(machine.errorReceived(ErrorResponse(severity: severity, code: code, message: "boom")))
    }
    /// Drains the answers Sluice now gives itself.
    /// Also checks `answersDue` (the guard the relay uses): when it is false, nothing is due.
    mutating func answers(file: StaticString = #filePath, line: UInt = #line) -> [String] {
        let due = machine.answersDue
        var out: [String] = []
        while let answer = machine.nextAnswer() { out.append(Self.text(answer)) }
        if !due { XCTAssertEqual(out, [], "answersDue was false", file: file, line: line) }
        if out.isEmpty { XCTAssertFalse(machine.answersDue, "answersDue stays true after the answers", file: file, line: line) }
        return out
    }

    // MARK: leaving, internal statements

    mutating func left(relaying: Bool = true, midMessage: Bool = false, resetQuery: String? = nil) -> String {
        switch machine.clientLeft(relaying: relaying, midMessage: midMessage, resetQuery: resetQuery) {
        case .cancelAndClose(let reason): return "cancelAndClose \(reason)"
        case .release: return "release"
        case .runCleanup(let queries): return "cleanup " + queries.joined(separator: "; ")
        }
    }
    mutating func cleanupFinished(failed: Bool, reset: Bool) -> String {
        switch machine.cleanupFinished(failed: failed, reset: reset) {
        case .close(let reason): return "close \(reason)"
        case .release(let discard): return discard ? "release discard" : "release"
        }
    }
    mutating func startInternal(_ queries: [String]) -> String { Self.text(machine.internalQueriesStarted(queries)) }
    mutating func internalReady(_ status: TransactionStatus) -> String { Self.text(machine.internalReadyForQueryReceived(status: status)) }
    mutating func internalError(code: String) {
        machine.internalErrorReceived(ErrorResponse(severity: .error, code: code, message: "bad"))
    }

    var state: String {
        let m = machine
        return "pending=\(m.pendingReadyForQuery) status=\(Character(UnicodeScalar(m.transactionStatus.rawValue))) "
            + "slots=\(m.slots.count) statements=\(m.statements.count)" + (m.skippingUntilSync ? " skipping" : "")
    }

    static func key(_ name: String) -> StatementKey { StatementKey(query: "SELECT '\(name)'", parameterTypes: []) }

    static func text(_ action: ServerSessionMachine.Action) -> String {
        switch action {
        case .none: return "none"
        case .sendAnswers: return "answers"
        case .sendParse(let statement, let key, let victim):
            XCTAssertEqual(key, Self.key(statement))
            return (victim.map { "close \($0), " } ?? "") + "parse \(statement)"
        case .forgetClientStatements(let names): return "forget " + names.joined(separator: ",")
        case .closeServer(let reason): return "closeServer \(reason)"
        case .cancelQuery: return "cancel"
        }
    }

    static func text(_ action: ServerSessionMachine.RelayAction) -> String {
        switch action {
        case .forward: return "forward"
        case .swallow: return "swallow"
        case .forwardThenAnswer: return "forward+answer"
        case .swallowThenAnswer: return "swallow+answer"
        case .forwardThenEndTransaction: return "forward+end"
        }
    }

    static func text(_ answer: ServerSessionMachine.Answer) -> String {
        switch answer {
        case .sendParseComplete: return "ParseComplete"
        case .sendCloseComplete: return "CloseComplete"
        case .sendDeallocateComplete(let status): return "DEALLOCATE \(Character(UnicodeScalar(status.rawValue)))"
        case .sendListenComplete(let status): return "LISTEN \(Character(UnicodeScalar(status.rawValue)))"
        case .endTransaction: return "end"
        }
    }

    static func text(_ action: ServerSessionMachine.InternalAction) -> String {
        switch action {
        case .sendQuery(let sql): return "send \(sql)"
        case .finish(let error): return error.map { "finish \($0.code ?? "?")" } ?? "finish"
        }
    }
}

final class ServerSessionMachineTests: XCTestCase {
    func testPipelinedExtendedProtocolSharesStatementsAndHidesSluicesParses() {
        var s = Script()
        // Client 1: Parse (new statement) Bind Execute Sync.
        XCTAssertEqual(s.parse("sluice_1", client: "a"), "parse sluice_1")
        XCTAssertEqual(s.queue(.bind), "none")
        XCTAssertEqual(s.queue(.execute), "none")
        XCTAssertEqual(s.sync(), "none")
        // Pipelined behind it: the same statement again, answered by Sluice in its turn, not now.
        XCTAssertEqual(s.parse("sluice_1", client: "b"), "none")
        // A Bind of a statement this server lacks: Sluice prepares it first, its reply hidden.
        XCTAssertEqual(s.need("sluice_2"), "parse sluice_2")
        XCTAssertEqual(s.queue(.bind), "none")
        XCTAssertEqual(s.queue(.describePortal), "none")
        XCTAssertEqual(s.queue(.execute), "none")
        XCTAssertEqual(s.sync(), "none")
        XCTAssertEqual(s.state, "pending=2 status=I slots=10 statements=2")

        XCTAssertEqual(s.parseComplete(), "forward")
        XCTAssertEqual(s.reply("2"), "forward")
        XCTAssertEqual(s.reply("D"), "forward")  // a DataRow finishes nothing
        XCTAssertEqual(s.reply("C"), "forward")
        s.now += 5
        XCTAssertEqual(s.ready("I"), "forward+answer 5ms applied")
        XCTAssertEqual(s.answers(), ["ParseComplete"])  // one ReadyForQuery still owed: not over
        XCTAssertEqual(s.parseComplete(), "swallow")
        XCTAssertEqual(s.reply("2"), "forward")
        XCTAssertEqual(s.reply("T"), "forward")
        XCTAssertEqual(s.reply("C"), "forward")
        s.now += 3
        XCTAssertEqual(s.ready("I"), "forward+end 3ms applied")
        XCTAssertEqual(s.state, "pending=0 status=I slots=0 statements=2")
    }

    func testAnswersAtTheHeadGoOutAtOnceAndDeallocateEndsTheTransaction() {
        var s = Script()
        s.prepared("sluice_1")
        XCTAssertEqual(s.parse("sluice_1", client: "b"), "answers")
        XCTAssertEqual(s.answers(), ["ParseComplete"])
        XCTAssertEqual(s.queue(.syntheticCloseComplete), "answers")
        XCTAssertEqual(s.answers(), ["CloseComplete"])
        // A lone DEALLOCATE name: CommandComplete and ReadyForQuery from Sluice; nothing else is out.
        XCTAssertEqual(s.queue(.syntheticDeallocate), "answers")
        XCTAssertEqual(s.answers(), ["DEALLOCATE I", "end"])
        XCTAssertEqual(s.answers(), [])
        // Behind a running query it waits for that query's ReadyForQuery, and ends the transaction once.
        XCTAssertEqual(s.query(), "none")
        XCTAssertEqual(s.queue(.syntheticDeallocate), "none")
        XCTAssertEqual(s.answers(), [])
        XCTAssertEqual(s.ready("I"), "forward+answer 0ms applied")
        XCTAssertEqual(s.answers(), ["DEALLOCATE I", "end"])
        // Inside a transaction block it reports that status and ends nothing.
        XCTAssertEqual(s.query(), "none")
        XCTAssertEqual(s.ready("T"), "forward 0ms")
        XCTAssertEqual(s.queue(.syntheticDeallocate), "answers")
        XCTAssertEqual(s.answers(), ["DEALLOCATE T"])
        XCTAssertEqual(s.state, "pending=0 status=T slots=0 statements=1")
    }

    func testListenAnswersComeInOrderWithTheStatusOfTheirTurn() {
        var s = Script()
        // Inside a transaction block, nothing in flight: answered at once with 'T', nothing ends.
        XCTAssertEqual(s.query(), "none")
        XCTAssertEqual(s.ready("T"), "forward 0ms")
        XCTAssertEqual(s.queue(.syntheticListen), "answers")
        XCTAssertEqual(s.answers(), ["LISTEN T"])
        // Behind a query that fails the transaction: the answer waits for its ReadyForQuery and
        // reports 'E' (the client then sends 25P02, as PostgreSQL would).
        XCTAssertEqual(s.query(), "none")
        XCTAssertEqual(s.queue(.syntheticListen), "none")
        XCTAssertEqual(s.answers(), [])
        XCTAssertEqual(s.error(), "none")
        XCTAssertEqual(s.ready("E"), "forward+answer 0ms")
        XCTAssertEqual(s.answers(), ["LISTEN E"])
        // Behind the ROLLBACK: status 'I', and the transaction ends after the answer.
        XCTAssertEqual(s.query(), "none")
        XCTAssertEqual(s.queue(.syntheticListen), "none")
        XCTAssertEqual(s.ready("I"), "forward+answer 0ms applied")
        XCTAssertEqual(s.answers(), ["LISTEN I", "end"])
        XCTAssertEqual(s.state, "pending=0 status=I slots=0 statements=0")
    }

    func testErrorSkipsToTheNextSyncAndForgetsTheFailedClientParses() {
        var s = Script()
        XCTAssertEqual(s.parse("sluice_1", client: "a"), "parse sluice_1")
        XCTAssertEqual(s.queue(.bind), "none")
        XCTAssertEqual(s.queue(.execute), "none")
        XCTAssertEqual(s.need("sluice_2"), "parse sluice_2")
        XCTAssertEqual(s.parse("sluice_3", client: "c"), "parse sluice_3")
        XCTAssertEqual(s.sync(), "none")
        XCTAssertEqual(s.parse("sluice_4", client: "d"), "parse sluice_4")  // after the Sync: runs
        XCTAssertEqual(s.sync(), "none")
        XCTAssertEqual(s.error(), "forget a,c")
        XCTAssertEqual(s.state, "pending=2 status=I slots=3 statements=1")
        XCTAssertEqual(s.ready("I"), "forward 0ms")  // an error passed: a pending SET did not apply
        XCTAssertEqual(s.parseComplete(), "forward")
        XCTAssertEqual(s.ready("I"), "forward+end 0ms applied")

        // The error comes before the client's Sync: the server skips what the client sends up to it.
        XCTAssertEqual(s.parse("sluice_5", client: "e"), "parse sluice_5")
        XCTAssertEqual(s.queue(.bind), "none")
        XCTAssertEqual(s.error(), "forget e")
        XCTAssertEqual(s.state, "pending=0 status=I slots=0 statements=1 skipping")
        XCTAssertEqual(s.parse("sluice_6", client: "f"), "forget f")
        XCTAssertEqual(s.need("sluice_7"), "none")
        XCTAssertEqual(s.queue(.execute), "none")
        XCTAssertEqual(s.state, "pending=0 status=I slots=0 statements=1 skipping")
        XCTAssertEqual(s.sync(), "none")
        XCTAssertEqual(s.state, "pending=1 status=I slots=1 statements=1")
        XCTAssertEqual(s.ready("I"), "forward+end 0ms")

        // A failed simple query ends at its own ReadyForQuery: nothing to skip.
        XCTAssertEqual(s.query(), "none")
        XCTAssertEqual(s.error(), "none")
        XCTAssertEqual(s.state, "pending=1 status=I slots=1 statements=1")
    }

    func testFatalErrorClosesTheServer() {
        var s = Script()
        XCTAssertEqual(s.query(), "none")
        XCTAssertEqual(s.error(.fatal, code: "57P01"), "closeServer upstream_closed:57P01")
        XCTAssertEqual(s.error(.panic, code: "XX000"), "closeServer upstream_closed:XX000")
        XCTAssertEqual(Script.text(s.machine.errorReceived(nil)), "none")  // undecoded (too long): not fatal
        XCTAssertTrue(s.machine.sawError)
    }

    func testDeallocateAllAndDiscardAllDropTheServersStatements() {
        var s = Script()
        s.prepared("sluice_1")
        s.prepared("sluice_2")
        XCTAssertEqual(s.query(), "none")
        XCTAssertEqual(s.commandComplete("DEALLOCATE ALL"), "forward")
        XCTAssertEqual(s.state, "pending=1 status=I slots=1 statements=0")
        XCTAssertEqual(s.ready("I"), "forward+end 0ms applied")
        XCTAssertEqual(s.parse("sluice_1", client: "a"), "parse sluice_1")  // prepared again, not answered by Sluice
        XCTAssertEqual(s.sync(), "none")
        XCTAssertEqual(s.parseComplete(), "forward")
        XCTAssertEqual(s.ready("I"), "forward+end 0ms applied")

        XCTAssertEqual(s.query(), "none")
        XCTAssertEqual(s.commandComplete("SELECT 1"), "forward")
        XCTAssertEqual(s.commandComplete("DISCARD ALL"), "forward")
        XCTAssertEqual(s.state, "pending=1 status=I slots=1 statements=0")
        XCTAssertEqual(s.ready("I"), "forward+end 0ms applied")

        // A lone DISCARD ALL / RESET ALL that took effect (ServerConnection learns it from the client).
        s.prepared("sluice_3")
        s.machine.settingApplied(.reset(name: "search_path"))
        XCTAssertEqual(s.machine.statements.count, 1)
        s.machine.settingApplied(.resetAll)
        XCTAssertEqual(s.machine.statements.count, 0)
        XCTAssertFalse(ServerSessionMachine.dropsAllStatements(tag: "DEALLOCATE"))
    }

    func testEvictionAtTheLimitClosesTheLeastRecentlyUsedStatement() {
        var s = Script()
        s.limit = 2
        s.prepared("sluice_1")
        s.prepared("sluice_2")
        XCTAssertEqual(s.need("sluice_1"), "none")  // used again: sluice_2 is now the oldest
        XCTAssertEqual(s.parse("sluice_3", client: "c"), "close sluice_2, parse sluice_3")
        XCTAssertEqual(s.sync(), "none")
        XCTAssertEqual(s.closeComplete(), "swallow")  // the Close was Sluice's
        XCTAssertEqual(s.parseComplete(), "forward")
        XCTAssertEqual(s.ready("I"), "forward+end 0ms applied")
        XCTAssertEqual(s.state, "pending=0 status=I slots=0 statements=2")
        XCTAssertEqual(s.need("sluice_2"), "close sluice_1, parse sluice_2")
        XCTAssertEqual(s.queue(.bind), "none")
        XCTAssertEqual(s.sync(), "none")
        XCTAssertEqual(s.closeComplete(), "swallow")
        XCTAssertEqual(s.parseComplete(), "swallow")
        XCTAssertEqual(s.reply("2"), "forward")
        XCTAssertEqual(s.ready("I"), "forward+end 0ms applied")
    }

    func testPendingReadyForQueryWithPipelinedSyncs() {
        var s = Script()
        s.forwarded()
        s.now += 10
        s.forwarded()
        s.forwarded()
        XCTAssertEqual(s.machine.pendingReadyForQuery, 3)
        XCTAssertEqual(s.machine.queryStartedAt, 1000)  // the oldest request's
        s.now = 1020
        XCTAssertEqual(s.ready("I"), "forward 20ms applied")
        XCTAssertEqual(s.machine.queryStartedAt, 1020)  // the next one is timed from here
        s.now = 1025
        XCTAssertEqual(s.ready("I"), "forward 5ms applied")
        s.now = 1030
        XCTAssertEqual(s.ready("I"), "forward+end 5ms applied")
        XCTAssertEqual(s.state, "pending=0 status=I slots=0 statements=0")
        XCTAssertEqual(s.machine.queryStartedAt, 0)
        XCTAssertEqual(s.ready("I"), "forward+end applied")  // one too many: nothing timed, no underflow
        XCTAssertEqual(s.machine.pendingReadyForQuery, 0)
    }

    func testTransactionEndsOnlyAtIdleWithNothingOutstanding() {
        var s = Script()
        XCTAssertEqual(s.query(), "none")  // BEGIN
        XCTAssertEqual(s.ready("T"), "forward 0ms")
        XCTAssertEqual(s.query(), "none")
        XCTAssertEqual(s.ready("E"), "forward 0ms")  // failed transaction block
        XCTAssertEqual(s.query(), "none")  // ROLLBACK
        XCTAssertEqual(s.query(), "none")  // and a pipelined SELECT
        XCTAssertEqual(s.ready("I"), "forward 0ms applied")
        XCTAssertEqual(s.ready("I"), "forward+end 0ms applied")
        // A Parse after the Sync keeps a request outstanding.
        XCTAssertEqual(s.sync(), "none")
        XCTAssertEqual(s.parse("sluice_1", client: "a"), "parse sluice_1")
        XCTAssertEqual(s.ready("I"), "forward 0ms applied")
        XCTAssertEqual(s.parseComplete(), "forward")
        XCTAssertEqual(s.state, "pending=0 status=I slots=0 statements=1")
    }

    func testQueryTimeoutFiresOnceThenCancels() {
        var s = Script()
        XCTAssertEqual(s.timedOut(), "none")  // nothing running
        s.forwarded()
        XCTAssertEqual(s.timedOut(), "cancel")
        XCTAssertTrue(s.machine.queryTimeoutFired)
        XCTAssertEqual(s.timedOut(), "none")  // once per running stretch
        s.forwarded()
        XCTAssertEqual(s.ready("I"), "forward 0ms applied")
        XCTAssertEqual(s.timedOut(), "none")  // the pipelined request was cancelled with it
        XCTAssertEqual(s.ready("I"), "forward+end 0ms applied")
        s.now += 100
        s.forwarded()  // a new request: a new chance
        XCTAssertFalse(s.machine.queryTimeoutFired)
        XCTAssertEqual(s.machine.queryStartedAt, 1100)
        XCTAssertEqual(s.timedOut(), "cancel")
    }

    func testClientLeavingMidQueryIdleInTransactionAndInSessionMode() {
        var busy = Script()
        busy.forwarded()
        XCTAssertEqual(busy.left(), "cancelAndClose client_close_mid_query")
        var queued = Script()
        XCTAssertEqual(queued.parse("sluice_1", client: "a"), "parse sluice_1")  // no Sync yet, reply owed
        XCTAssertEqual(queued.left(), "cancelAndClose client_close_mid_query")

        var idle = Script()
        XCTAssertEqual(idle.left(midMessage: true), "cancelAndClose client_close_mid_query")
        XCTAssertEqual(idle.left(relaying: false), "cancelAndClose client_close_mid_query")  // alignment still running
        XCTAssertEqual(idle.left(), "release")

        var inTransaction = Script()
        XCTAssertEqual(inTransaction.query(), "none")
        XCTAssertEqual(inTransaction.ready("T"), "forward 0ms")
        XCTAssertEqual(inTransaction.left(), "cleanup ROLLBACK")
        XCTAssertEqual(inTransaction.startInternal(["ROLLBACK"]), "send ROLLBACK")
        XCTAssertEqual(inTransaction.internalReady(.idle), "finish")
        XCTAssertEqual(inTransaction.cleanupFinished(failed: false, reset: false), "release")
        XCTAssertEqual(inTransaction.machine.transactionStatus, .idle)

        var session = Script()
        session.prepared("sluice_1")
        XCTAssertEqual(session.left(resetQuery: ""), "release")  // server_reset_query = ''
        XCTAssertEqual(session.left(resetQuery: "DISCARD ALL"), "cleanup DISCARD ALL")
        XCTAssertEqual(session.query(), "none")
        XCTAssertEqual(session.ready("E"), "forward 0ms")
        XCTAssertEqual(session.left(resetQuery: "DISCARD ALL"), "cleanup ROLLBACK; DISCARD ALL")
        XCTAssertEqual(session.cleanupFinished(failed: true, reset: true), "close reset_failed")
        XCTAssertEqual(session.machine.statements.count, 1)
        XCTAssertEqual(session.cleanupFinished(failed: false, reset: true), "release discard")
        XCTAssertEqual(session.machine.statements.count, 0)
    }

    func testInternalSequenceStopsAtTheFirstError() {
        var s = Script()
        XCTAssertEqual(s.startInternal(["SET a = 1", "SET b = 2", "SET c = 3"]), "send SET a = 1")
        XCTAssertEqual(s.internalReady(.idle), "send SET b = 2")
        s.internalError(code: "22023")
        s.internalError(code: "42601")  // only the first is reported
        XCTAssertEqual(s.internalReady(.idle), "finish 22023")  // SET c = 3 is never sent
        XCTAssertEqual(s.machine.internalQueries, [])

        s.machine.internalErrorReceived(nil)  // undecodable: ignored
        XCTAssertEqual(s.startInternal(["BEGIN", "SELECT 1"]), "send BEGIN")
        XCTAssertEqual(s.internalReady(.inTransaction), "send SELECT 1")
        XCTAssertEqual(s.internalReady(.inTransaction), "finish")
        XCTAssertEqual(s.machine.transactionStatus, .inTransaction)
        XCTAssertNil(s.machine.internalError)
    }

    func testStreamedReplyPopsItsRequestButAnswersWaitForAWholeMessage() {
        var s = Script()
        s.prepared("sluice_1")
        XCTAssertEqual(s.queue(.describePortal), "none")
        XCTAssertEqual(s.parse("sluice_1", client: "b"), "none")
        XCTAssertEqual(s.reply("T", whole: false), "forward")  // popped; the rest streams through
        XCTAssertEqual(s.state, "pending=0 status=I slots=1 statements=1")
        var t = Script()
        t.prepared("sluice_1")
        XCTAssertEqual(t.queue(.describePortal), "none")
        XCTAssertEqual(t.parse("sluice_1", client: "b"), "none")
        XCTAssertEqual(t.reply("T"), "forward+answer")
        XCTAssertEqual(t.answers(), ["ParseComplete"])

        // Without statement mapping nothing is queued and every reply is simply forwarded.
        var plain = Script()
        plain.forwarded()
        XCTAssertEqual(plain.parseComplete(), "forward")
        XCTAssertEqual(plain.reply("C"), "forward")
        XCTAssertEqual(plain.commandComplete("DISCARD ALL"), "forward")
        XCTAssertFalse(plain.machine.tracksRequests)
    }
}
