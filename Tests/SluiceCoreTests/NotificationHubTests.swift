// Tests for NotificationHub: LISTEN/UNLISTEN queries, transactions, notifications and the listener connection in, actions out as short strings.
import XCTest
import PostgresWire
@testable import SluiceCore

/// One pool's hub with a clock the test moves by hand; every event returns its actions as text.
private struct Script {
    var hub: NotificationHub
    var now: UInt64 = 1000
    /// Clients that hold a server or whose socket is backed up (they queue).
    var busy: Set<UInt64> = []

    init(maxChannels: Int = 100, queueMessages: Int = 3, queueBytes: Int = 1 << 20, waitTimeout: UInt64 = 5000) {
        hub = NotificationHub(limits: .init(maxChannels: maxChannels, queueMessages: queueMessages, queueBytes: queueBytes,
                                            maxReconnectDelay: 1000, listenWaitTimeout: waitTimeout))
    }

    static func ops(_ text: String) -> [ListenOp] {
        text.split(separator: " ").map { word in
            if word == "-*" { return .unlistenAll }
            if word.hasPrefix("-") { return .unlisten(String(word.dropFirst())) }
            return .listen(String(word))
        }
    }

    /// `ops`: "a b -c -*" = LISTEN a; LISTEN b; UNLISTEN c; UNLISTEN *.
    mutating func listen(_ client: UInt64, _ ops: String, wait: Bool = true) -> String {
        let (outcome, actions) = hub.listenRequested(ClientID(client), ops: Self.ops(ops), waitForListener: wait, now: now)
        return Self.text(outcome, actions)
    }
    mutating func listenInTransaction(_ client: UInt64, _ ops: String) -> String {
        let (outcome, actions) = hub.listenInTransaction(ClientID(client), ops: Self.ops(ops), now: now)
        return Self.text(outcome, actions)
    }
    mutating func commit(_ client: UInt64) -> String { Self.text(hub.transactionCommitted(ClientID(client), now: now)) }
    mutating func rollback(_ client: UInt64) -> String { Self.text(hub.transactionEnded(ClientID(client), now: now)) }
    mutating func leave(_ client: UInt64) -> String { Self.text(hub.clientLeft(ClientID(client), now: now)) }
    mutating func tick() -> String { Self.text(hub.tick(now: now)) }

    mutating func notify(_ channel: String, _ payload: String) -> String {
        let busy = self.busy
        return Self.text(hub.notificationReceived(channel: channel, bytes: Self.message(channel, payload)) { !busy.contains($0.raw) })
    }
    /// What a client that can receive again gets, in order.
    mutating func drain(_ client: UInt64) -> [String] {
        var out: [String] = []
        while let bytes = hub.takeQueued(ClientID(client)) { out.append(Self.payload(bytes)) }
        return out
    }

    mutating func connected() -> String { Self.text(hub.listenerConnected(now: now)) }
    mutating func batchDone(error: String? = nil) -> String {
        Self.text(hub.listenerBatchFinished(error: error.map { ErrorResponse(severity: .error, code: $0, message: "no") },
                                            jitter: 1, now: now))
    }
    mutating func loginFailed(retryable: Bool) -> String {
        Self.text(hub.listenerLoginFailed(reason: "refused", retryable: retryable, jitter: 1, now: now))
    }
    mutating func lost() -> String { Self.text(hub.listenerLost(reason: "upstream_closed:57P01", jitter: 1, now: now)) }
    mutating func reconnectDue() -> String { Self.text(hub.reconnectTimerFired(now: now)) }
    mutating func graceOver() -> String { Self.text(hub.graceTimerFired(now: now)) }

    /// Opens the listener for the first LISTEN of `client` on `channels` and confirms it.
    mutating func subscribed(_ client: UInt64, _ channels: String) {
        let first = hub.phase == .closed
        _ = listen(client, channels)
        if first { _ = connected() }
        _ = batchDone()
        XCTAssertEqual(hub.channels(of: ClientID(client)), Set(channels.split(separator: " ").map(String.init)))
    }

    var state: String {
        "channels=\(hub.channelCount) subscribers=\(hub.subscriberCount) listened=\(hub.listened.sorted().joined(separator: ",")) phase=\(hub.phase)"
    }

    // MARK: text

    static func message(_ channel: String, _ payload: String) -> [UInt8] {
        NotificationResponse(processID: 42, channel: channel, payload: payload).encoded
    }
    static func payload(_ bytes: [UInt8]) -> String {
        (try? NotificationResponse.decode(body: bytes[5...]))?.payload ?? "?"
    }

    static func text(_ outcome: NotificationHub.Outcome, _ actions: [NotificationHub.Action]) -> String {
        let head: String
        switch outcome {
        case .done: head = "done"
        case .awaitingListener: head = "await"
        case .refused(let error): head = "refused \(error.code ?? "?")"
        }
        let rest = text(actions)
        return rest == "none" ? head : head + "; " + rest
    }

    static func text(_ actions: [NotificationHub.Action]) -> String {
        guard !actions.isEmpty else { return "none" }
        return actions.map { action -> String in
            switch action {
            case .openListener(let reconnect): return reconnect ? "reopen" : "open"
            case .sendListenerQuery(let sql): return "send \(sql)"
            case .closeListener(let reason): return "close \(reason)"
            case .scheduleReconnect(let ms): return "reconnect in \(ms)ms"
            case .scheduleGrace(let ms): return "grace \(ms)ms"
            case .answerListen(let client): return "answer \(client)"
            case .failListen(let client, let error): return "fail \(client) \(error.code ?? "?")"
            case .deliver(let client, let messages): return "deliver \(client) " + messages.map(payload).joined(separator: ",")
            case .closeClient(let client, let error): return "closeClient \(client) \(error.code ?? "?")"
            }
        }.joined(separator: "; ")
    }
}

final class NotificationHubTests: XCTestCase {
    func testFirstListenOpensTheListenerAndIsAnsweredOnceItListens() {
        var s = Script()
        XCTAssertEqual(s.listen(1, "orders"), "await; open")
        XCTAssertEqual(s.listen(2, "orders"), "await")  // the channel is not listened to yet either
        XCTAssertEqual(s.connected(), #"send LISTEN "orders""#)
        XCTAssertEqual(s.batchDone(), "answer c1; answer c2")
        XCTAssertEqual(s.state, "channels=1 subscribers=2 listened=orders phase=ready")
        // A channel already listened to: answered at once, no statement sent.
        XCTAssertEqual(s.listen(3, "orders"), "done")
        // A new channel while the listener is up: one batch; a second new channel waits for the next.
        XCTAssertEqual(s.listen(3, "invoices"), #"await; send LISTEN "invoices""#)
        XCTAssertEqual(s.listen(4, "Mixed\"q"), "await")
        XCTAssertEqual(s.batchDone(), #"answer c3; send LISTEN "Mixed""q""#)
        XCTAssertEqual(s.batchDone(), "answer c4")
        XCTAssertEqual(s.state, #"channels=3 subscribers=4 listened=Mixed"q,invoices,orders phase=ready"#)
    }

    func testUnlistenAndLeavingDropChannelsAndAnIdleListenerClosesAfterTheGrace() {
        var s = Script()
        s.subscribed(1, "a b")
        s.subscribed(2, "b")
        XCTAssertEqual(s.listen(1, "-a"), #"done; send UNLISTEN "a""#)
        XCTAssertEqual(s.batchDone(), "none")
        XCTAssertEqual(s.listen(1, "-nothing"), "done")  // UNLISTEN of a channel it never had
        XCTAssertEqual(s.listen(1, "-*"), "done")  // b is still client 2's
        XCTAssertEqual(s.state, "channels=1 subscribers=1 listened=b phase=ready")
        XCTAssertEqual(s.leave(2), #"send UNLISTEN "b""#)
        XCTAssertEqual(s.state, "channels=0 subscribers=0 listened=b phase=ready")
        XCTAssertEqual(s.batchDone(), "grace 10000ms")
        // Someone listens again within the grace: the same connection is used.
        XCTAssertEqual(s.listen(3, "c"), #"await; send LISTEN "c""#)
        XCTAssertEqual(s.graceOver(), "none")
        XCTAssertEqual(s.batchDone(), "answer c3")
        XCTAssertEqual(s.leave(3), #"send UNLISTEN "c""#)
        XCTAssertEqual(s.batchDone(), "grace 10000ms")
        XCTAssertEqual(s.graceOver(), "close notify_idle")
        XCTAssertEqual(s.state, "channels=0 subscribers=0 listened= phase=closed")
        // The next LISTEN opens a new one.
        XCTAssertEqual(s.listen(4, "d"), "await; open")
    }

    func testListenThenUnlistenInOneQueryEndsUnsubscribed() {
        var s = Script()
        s.subscribed(1, "a")
        XCTAssertEqual(s.listen(2, "a -a"), "done")
        XCTAssertEqual(s.hub.channels(of: ClientID(2)), [])
        XCTAssertEqual(s.listen(2, "a -* b"), #"await; send LISTEN "b""#)
        XCTAssertEqual(s.batchDone(), "answer c2")
        XCTAssertEqual(s.hub.channels(of: ClientID(2)), ["b"])
    }

    func testNotificationsGoToIdleSubscribersNowAndQueueForBusyOnesInOrder() {
        var s = Script()
        s.subscribed(1, "a")
        s.subscribed(2, "a b")
        XCTAssertEqual(s.notify("a", "1").sortedActions, "deliver c1 1; deliver c2 1")
        XCTAssertEqual(s.notify("nobody", "x"), "none")
        s.busy = [2]  // client 2 is inside a transaction
        XCTAssertEqual(s.notify("a", "2"), "deliver c1 2")
        XCTAssertEqual(s.notify("b", "3"), "none")
        s.busy = []
        // Something is queued for client 2: what comes next queues behind it, whatever its state.
        XCTAssertEqual(s.notify("a", "4"), "deliver c1 4")
        XCTAssertEqual(s.drain(2), ["2", "3", "4"])
        XCTAssertEqual(s.notify("a", "5").sortedActions, "deliver c1 5; deliver c2 5")
        XCTAssertEqual(s.hub.stats.received, 6)
        XCTAssertEqual(s.hub.stats.delivered, 9)
        XCTAssertEqual(s.hub.stats.dropped, 0)
    }

    func testAFullQueueClosesItsClientAndCountsWhatWasDropped() {
        var s = Script(queueMessages: 3)
        s.subscribed(1, "a")
        s.subscribed(2, "a")
        s.busy = [2]
        for i in 1...3 { XCTAssertEqual(s.notify("a", "\(i)"), "deliver c1 \(i)") }
        XCTAssertEqual(s.notify("a", "4"), "deliver c1 4; closeClient c2 54000")
        XCTAssertEqual(s.hub.stats.dropped, 4)
        XCTAssertEqual(s.hub.stats.overflows, 1)
        XCTAssertFalse(s.hub.knows(ClientID(2)))
        XCTAssertEqual(s.leave(2), "none")  // its close comes later: nothing left to do
        XCTAssertEqual(s.notify("a", "5"), "deliver c1 5")
        // The bytes bound too: two 13-byte messages fit in 30 bytes, a third does not.
        var t = Script(queueMessages: 100, queueBytes: 30)
        t.subscribed(1, "a")
        t.busy = [1]
        XCTAssertEqual(t.notify("a", "x"), "none")
        XCTAssertEqual(t.notify("a", "y"), "none")
        XCTAssertEqual(t.notify("a", "z"), #"closeClient c1 54000; send UNLISTEN "a""#)
        XCTAssertEqual(t.hub.stats.dropped, 3)
    }

    func testListenInsideATransactionTakesEffectAtCommitAndIsDroppedOtherwise() {
        var s = Script()
        s.subscribed(9, "other")
        // LISTEN inside a transaction: the listener listens now (ready by the COMMIT), but the
        // client is not subscribed before it.
        XCTAssertEqual(s.listenInTransaction(1, "a"), #"done; send LISTEN "a""#)
        XCTAssertEqual(s.batchDone(), "none")
        XCTAssertEqual(s.notify("a", "before commit"), "none")
        XCTAssertEqual(s.commit(1), "none")
        XCTAssertEqual(s.notify("a", "after commit"), "deliver c1 after commit")
        // Rolled back: the channel is released again.
        XCTAssertEqual(s.listenInTransaction(2, "b"), #"done; send LISTEN "b""#)
        XCTAssertEqual(s.batchDone(), "none")
        XCTAssertEqual(s.rollback(2), #"send UNLISTEN "b""#)
        XCTAssertEqual(s.batchDone(), "none")
        XCTAssertEqual(s.hub.channels(of: ClientID(2)), [])
        XCTAssertFalse(s.hub.knows(ClientID(2)))
        // UNLISTEN inside a transaction: notifications keep coming until the COMMIT.
        XCTAssertEqual(s.listenInTransaction(1, "-a"), "done")
        XCTAssertEqual(s.notify("a", "still"), "deliver c1 still")
        XCTAssertEqual(s.commit(1), #"send UNLISTEN "a""#)
        XCTAssertEqual(s.hub.channels(of: ClientID(1)), [])
        // A commit with nothing pending, and the end of a transaction after its commit, do nothing.
        XCTAssertEqual(s.commit(1), "none")
        XCTAssertEqual(s.rollback(1), "none")
    }

    func testALostListenerReconnectsWithBackoffAndListensAgain() {
        var s = Script()
        s.subscribed(1, "a b")
        XCTAssertEqual(s.lost(), "reconnect in 100ms")
        XCTAssertEqual(s.state, "channels=2 subscribers=1 listened= phase=waitingToReconnect")
        XCTAssertEqual(s.notify("a", "meanwhile"), "deliver c1 meanwhile")  // a late one still in its buffer
        XCTAssertEqual(s.reconnectDue(), "reopen")
        XCTAssertEqual(s.connected(), #"send LISTEN "a";LISTEN "b""#)
        XCTAssertEqual(s.batchDone(), "none")
        // Lost again soon after: a longer pause; after a stable while, the first pause again.
        s.now += 1000
        XCTAssertEqual(s.lost(), "reconnect in 200ms")
        XCTAssertEqual(s.reconnectDue(), "reopen")
        XCTAssertEqual(s.loginFailed(retryable: true), "reconnect in 400ms")
        XCTAssertEqual(s.reconnectDue(), "reopen")
        XCTAssertEqual(s.connected(), #"send LISTEN "a";LISTEN "b""#)
        XCTAssertEqual(s.batchDone(), "none")
        s.now += NotificationHub.stableAfter
        XCTAssertEqual(s.lost(), "reconnect in 100ms")
        XCTAssertEqual(s.hub.stats.reconnects, 3)
        XCTAssertEqual(s.hub.stats.listenerLosses, 3)
        // Everyone left during the pause: it stays closed.
        XCTAssertEqual(s.leave(1), "none")
        XCTAssertEqual(s.reconnectDue(), "none")
        XCTAssertEqual(s.state, "channels=0 subscribers=0 listened= phase=closed")
    }

    func testTheBackoffStopsAtItsCap() {
        var s = Script()
        _ = s.listen(1, "a")
        var delays: [String] = []
        for _ in 0..<6 {
            delays.append(s.loginFailed(retryable: true))
            _ = s.reconnectDue()
        }
        XCTAssertEqual(delays, ["reconnect in 100ms", "reconnect in 200ms", "reconnect in 400ms", "reconnect in 800ms",
                                "reconnect in 1000ms", "reconnect in 1000ms"])
    }

    func testListensWaitingForTheListenerFailOnABadLoginOrAfterTheWaitTimeout() {
        var s = Script(waitTimeout: 5000)
        XCTAssertEqual(s.listen(1, "a"), "await; open")
        XCTAssertEqual(s.loginFailed(retryable: true), "reconnect in 100ms")  // retried; the client waits
        XCTAssertEqual(s.reconnectDue(), "reopen")
        XCTAssertEqual(s.loginFailed(retryable: false), "fail c1 08006")
        XCTAssertEqual(s.state, "channels=0 subscribers=0 listened= phase=closed")
        // Retryable failures: it waits up to the timeout, then fails; the channel is dropped.
        XCTAssertEqual(s.listen(2, "b"), "await; open")
        XCTAssertEqual(s.loginFailed(retryable: true), "reconnect in 400ms")  // the third failure in a row
        s.now += 4000
        XCTAssertEqual(s.tick(), "none")
        s.now += 1000
        XCTAssertEqual(s.tick(), "fail c2 08006")
        XCTAssertEqual(s.reconnectDue(), "none")
        XCTAssertEqual(s.state, "channels=0 subscribers=0 listened= phase=closed")
    }

    func testAFailedBatchReplacesTheConnection() {
        var s = Script()
        s.subscribed(1, "a")
        XCTAssertEqual(s.listen(2, "b"), #"await; send LISTEN "b""#)
        XCTAssertEqual(s.batchDone(error: "25006"), "close listen_failed; reconnect in 100ms")
        XCTAssertEqual(s.reconnectDue(), "reopen")
        XCTAssertEqual(s.connected(), #"send LISTEN "a";LISTEN "b""#)
        XCTAssertEqual(s.batchDone(), "answer c2")
    }

    func testTheChannelLimitRefusesNewChannelsOnly() {
        var s = Script(maxChannels: 2)
        s.subscribed(1, "a b")
        XCTAssertEqual(s.listen(2, "c"), "refused 54000")
        XCTAssertEqual(s.listenInTransaction(2, "a c"), "refused 54000")
        XCTAssertEqual(s.listen(2, "a b"), "done")  // existing channels are fine
        XCTAssertEqual(s.listen(1, "-a"), "done")  // a is still client 2's
        XCTAssertEqual(s.listen(3, "c"), "refused 54000")
        XCTAssertEqual(s.leave(2), #"send UNLISTEN "a""#)
        XCTAssertEqual(s.listen(3, "c"), "await")  // b and c: within the limit
        XCTAssertEqual(s.batchDone(), #"send LISTEN "c""#)
        XCTAssertEqual(s.batchDone(), "answer c3")
    }

    func testShutdownClosesTheListenerAndForgetsEveryone() {
        var s = Script()
        s.subscribed(1, "a")
        XCTAssertEqual(Script.text(s.hub.shutdown()), "close shutdown")
        XCTAssertEqual(s.state, "channels=0 subscribers=0 listened= phase=closed")
        XCTAssertEqual(s.notify("a", "late"), "none")
    }
}

private extension String {
    /// Actions naming several clients come in no fixed order: compare them sorted.
    var sortedActions: String { split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.sorted().joined(separator: "; ") }
}
