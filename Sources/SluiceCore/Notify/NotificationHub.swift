// NotificationHub: one pool's LISTEN/NOTIFY relay (subscriptions, the listener connection, delivery) as a value type.
import PostgresWire

/// The decisions of a pool's notification relay, without sockets or clocks: which channels the
/// pool's one listener connection must LISTEN to, which clients are subscribed to what, when a
/// LISTEN takes effect (at once, once the listener listens, or at COMMIT), and where each
/// notification goes (now, or into the client's bounded queue until it leaves its transaction).
/// `NotificationRelay` owns one, feeds it events and carries out the actions it returns.
///
/// A channel is *wanted* while a client is subscribed to it or a LISTEN for it is pending (inside
/// a transaction, or waiting for the listener): the listener converges on the wanted set, one
/// batch of LISTEN/UNLISTEN statements at a time. Times are loop milliseconds, passed in.
struct NotificationHub {
    struct Limits: Equatable {
        /// Wanted channels per pool (`notify_max_channels`).
        var maxChannels: Int
        /// Notifications and bytes queued per client (`notify_queue_limit`, `notify_queue_bytes`).
        var queueMessages: Int
        var queueBytes: Int
        /// Longest backoff between listener connection attempts (`server_login_retry`), ms.
        var maxReconnectDelay: UInt64
        /// How long a LISTEN may wait for the listener before it fails (`query_wait_timeout`), ms; 0: forever.
        var listenWaitTimeout: UInt64
    }

    enum ListenerPhase: Equatable {
        /// No connection, none wanted.
        case closed
        /// Connecting and logging in (`listenerConnected` or `listenerLoginFailed` comes next).
        case connecting
        /// Logged in: batches of LISTEN/UNLISTEN are sent, notifications arrive.
        case ready
        /// Lost or failed; `reconnectTimerFired` opens it again.
        case waitingToReconnect
    }

    /// What a client's LISTEN/UNLISTEN query came to.
    enum Outcome: Equatable {
        /// Applied (or recorded for COMMIT): answer CommandComplete for each statement.
        case done
        /// A channel is not listened to yet: the answer comes with `answerListen` or `failListen`.
        case awaitingListener
        /// Refused (the channel limit): answer this error.
        case refused(ErrorResponse)
    }

    /// What the executor does, in order.
    enum Action: Equatable {
        /// Open the listener connection; `reconnect`: it replaces one lost or failed.
        case openListener(reconnect: Bool)
        /// Send this simple Query (LISTEN/UNLISTEN statements) on the listener; report
        /// `listenerBatchFinished` at its ReadyForQuery.
        case sendListenerQuery(String)
        /// Close the listener connection (the hub already forgot it).
        case closeListener(reason: String)
        /// Report `reconnectTimerFired` after this long (replacing a pending one).
        case scheduleReconnect(afterMilliseconds: UInt64)
        /// Report `graceTimerFired` after this long (replacing a pending one).
        case scheduleGrace(afterMilliseconds: UInt64)
        /// The client's LISTEN query that waited for the listener took effect: answer it.
        case answerListen(ClientID)
        /// The client's LISTEN query that waited for the listener failed: answer this error.
        case failListen(ClientID, ErrorResponse)
        /// Send these NotificationResponse messages (whole, as received) to the client now.
        case deliver(ClientID, [[UInt8]])
        /// The client's queue overflowed: close it with this FATAL error (its subscriptions are gone).
        case closeClient(ClientID, ErrorResponse)
    }

    struct Stats: Equatable {
        /// NotificationResponse messages the listener received.
        var received: UInt64 = 0
        /// Messages written to clients.
        var delivered: UInt64 = 0
        /// Messages discarded with a client closed for a full queue.
        var dropped: UInt64 = 0
        /// Clients closed for a full queue.
        var overflows: UInt64 = 0
        /// Listener connections opened to replace a lost or failed one.
        var reconnects: UInt64 = 0
        /// Listener connections lost after login (killed, upstream restart, network).
        var listenerLosses: UInt64 = 0
    }

    /// One client's part.
    struct Subscriber {
        /// Channels it is subscribed to (committed).
        var channels: Set<String> = []
        /// Statements run inside its open transaction, applied at COMMIT.
        var pending: [ListenOp] = []
        /// Channels held wanted for `pending` (the listener LISTENs before the COMMIT).
        var pendingHolds: [String] = []
        /// A query that waits until the listener listens to every channel it LISTENs to.
        var awaiting: [ListenOp]?
        var awaitingHolds: [String] = []
        var awaitingSince: UInt64 = 0
        /// Notifications not delivered yet (it held a server, or its socket was full), oldest first.
        var queue = FIFOQueue<[UInt8]>()
        var queuedBytes = 0

        var isEmpty: Bool { channels.isEmpty && pending.isEmpty && pendingHolds.isEmpty && awaiting == nil && queue.isEmpty }
    }

    // The state below is written only by the hub's own events (here and in NotificationHub+Listener.swift).
    var limits: Limits
    var stats = Stats()
    /// Committed subscribers of each channel (delivery reads this).
    var subscribers: [String: Set<ClientID>] = [:]
    /// For each wanted channel: subscribers plus pending holds.
    var wanted: [String: Int] = [:]
    var clients: [ClientID: Subscriber] = [:]
    /// Clients with a query awaiting the listener, in arrival order.
    var awaitingOrder: [ClientID] = []

    var phase: ListenerPhase = .closed
    /// Channels the current listener connection has confirmed (LISTEN done, UNLISTEN not).
    var listened: Set<String> = []
    /// The batch sent and not answered yet.
    var inFlight: (listen: [String], unlisten: [String])?
    /// Failed attempts (logins or connections that did not last) since the listener last held.
    var failures = 0
    var lastFailure: String?
    /// Loop time the current connection logged in.
    var readySince: UInt64 = 0

    /// A connection that stayed up this long before it was lost starts the backoff afresh.
    static let stableAfter: UInt64 = 30_000
    /// The first pause before reconnecting (doubled per failure, up to `maxReconnectDelay`).
    static let firstReconnectDelay: UInt64 = 100
    /// An idle listener (no channel wanted) is closed after this long.
    static let graceMilliseconds: UInt64 = 10_000

    init(limits: Limits) {
        self.limits = limits
    }

    // MARK: reading

    var channelCount: Int { wanted.count }
    /// Clients subscribed to at least one channel.
    var subscriberCount: Int { clients.values.reduce(0) { $0 + ($1.channels.isEmpty ? 0 : 1) } }
    /// A listener connection exists (connecting or logged in).
    var listenerOpen: Bool { phase == .connecting || phase == .ready }
    func channels(of client: ClientID) -> Set<String> { clients[client]?.channels ?? [] }
    func queuedCount(of client: ClientID) -> Int { clients[client]?.queue.count ?? 0 }
    func knows(_ client: ClientID) -> Bool { clients[client] != nil }

    mutating func limitsChanged(_ limits: Limits) {
        self.limits = limits
    }

    // MARK: client events

    /// A LISTEN/UNLISTEN query outside a transaction. With `waitForListener`, a LISTEN of a channel
    /// the listener does not listen to yet waits for it (`awaitingListener`), so that a NOTIFY
    /// committed after the client's answer is never missed; without it (the query was answered in
    /// order behind others on a server), it takes effect at once.
    mutating func listenRequested(_ client: ClientID, ops: [ListenOp], waitForListener: Bool, now: UInt64) -> (Outcome, [Action]) {
        if let refusal = limitRefusal(for: ops) { return (.refused(refusal), []) }
        let newChannels = listenedChannels(ops).filter { !listened.contains($0) || inFlightUnlistens($0) }
        if waitForListener && !newChannels.isEmpty {
            var subscriber = clients[client] ?? Subscriber()
            subscriber.awaiting = ops
            subscriber.awaitingHolds = newChannels
            subscriber.awaitingSince = now
            clients[client] = subscriber
            for channel in newChannels { hold(channel) }
            awaitingOrder.append(client)
            var actions: [Action] = []
            work(&actions)
            return (.awaitingListener, actions)
        }
        apply(ops, to: client)
        var actions: [Action] = []
        work(&actions)
        return (.done, actions)
    }

    /// A LISTEN/UNLISTEN query inside a transaction block: recorded, applied at COMMIT
    /// (`transactionCommitted`), dropped if the transaction ends otherwise (`transactionEnded`).
    /// The channels it LISTENs to are wanted at once, so the listener is ready by the COMMIT.
    mutating func listenInTransaction(_ client: ClientID, ops: [ListenOp], now: UInt64) -> (Outcome, [Action]) {
        if let refusal = limitRefusal(for: ops) { return (.refused(refusal), []) }
        var subscriber = clients[client] ?? Subscriber()
        subscriber.pending += ops
        let holds = listenedChannels(ops)
        subscriber.pendingHolds += holds
        clients[client] = subscriber
        for channel in holds { hold(channel) }
        var actions: [Action] = []
        work(&actions)
        return (.done, actions)
    }

    /// COMMIT: the client's statements of this transaction take effect.
    mutating func transactionCommitted(_ client: ClientID, now: UInt64) -> [Action] {
        guard var subscriber = clients[client], !subscriber.pending.isEmpty || !subscriber.pendingHolds.isEmpty else { return [] }
        let ops = subscriber.pending
        let holds = subscriber.pendingHolds
        subscriber.pending = []
        subscriber.pendingHolds = []
        clients[client] = subscriber
        apply(ops, to: client)
        for channel in holds { release(channel) }
        forgetIfEmpty(client)
        var actions: [Action] = []
        work(&actions)
        return actions
    }

    /// The transaction ended without COMMIT (ROLLBACK, an error, a lost server): its statements are void.
    mutating func transactionEnded(_ client: ClientID, now: UInt64) -> [Action] {
        guard var subscriber = clients[client], !subscriber.pending.isEmpty || !subscriber.pendingHolds.isEmpty else { return [] }
        let holds = subscriber.pendingHolds
        subscriber.pending = []
        subscriber.pendingHolds = []
        clients[client] = subscriber
        for channel in holds { release(channel) }
        forgetIfEmpty(client)
        var actions: [Action] = []
        work(&actions)
        return actions
    }

    /// The client left (or was closed): every subscription, pending statement and queued notification goes.
    mutating func clientLeft(_ client: ClientID, now: UInt64) -> [Action] {
        guard clients[client] != nil else { return [] }
        remove(client)
        var actions: [Action] = []
        work(&actions)
        return actions
    }

    /// Once a second: LISTENs that waited longer than `listenWaitTimeout` for the listener fail.
    mutating func tick(now: UInt64) -> [Action] {
        guard limits.listenWaitTimeout > 0, !awaitingOrder.isEmpty else { return [] }
        var actions: [Action] = []
        for client in awaitingOrder {
            guard let since = clients[client]?.awaitingSince, now &- since >= limits.listenWaitTimeout else { continue }
            let reason = lastFailure.map { ": \($0)" } ?? ""
            actions.append(.failListen(client, ErrorResponse(
                severity: .error, code: SQLState.connectionFailure,
                message: "could not LISTEN: the notification listener did not connect within query_wait_timeout (\(limits.listenWaitTimeout / 1000) s)\(reason)")))
            dropAwaiting(client)
        }
        work(&actions)
        return actions
    }

    // MARK: delivery

    /// The listener received a notification on `channel`; `bytes` is the whole NotificationResponse.
    /// A subscriber that `canReceive` (holds no server, its socket is not backed up) with nothing
    /// queued gets it now; the others queue it, and a queue past its limits closes its client.
    mutating func notificationReceived(channel: String, bytes: [UInt8], canReceive: (ClientID) -> Bool) -> [Action] {
        stats.received += 1
        guard let targets = subscribers[channel] else { return [] }
        var actions: [Action] = []
        var overflowed: [ClientID] = []
        for client in targets {
            guard var subscriber = clients[client] else { continue }
            if subscriber.queue.isEmpty && canReceive(client) {
                stats.delivered += 1
                actions.append(.deliver(client, [bytes]))
                continue
            }
            subscriber.queue.append(bytes)
            subscriber.queuedBytes += bytes.count
            if subscriber.queue.count > limits.queueMessages || subscriber.queuedBytes > limits.queueBytes {
                stats.dropped += UInt64(subscriber.queue.count)
                stats.overflows += 1
                overflowed.append(client)
            }
            clients[client] = subscriber
        }
        for client in overflowed {
            remove(client)
            actions.append(.closeClient(client, overflowError))
        }
        if !overflowed.isEmpty { work(&actions) }
        return actions
    }

    /// The next queued notification of a client that can receive now (nil: none).
    mutating func takeQueued(_ client: ClientID) -> [UInt8]? {
        guard var subscriber = clients[client], let bytes = subscriber.queue.removeFirst() else { return nil }
        subscriber.queuedBytes -= bytes.count
        clients[client] = subscriber
        stats.delivered += 1
        forgetIfEmpty(client)
        return bytes
    }

    var overflowError: ErrorResponse {
        ErrorResponse(severity: .fatal, code: SQLState.programLimitExceeded,
                      message: "too many notifications waiting for this client (notify_queue_limit=\(limits.queueMessages), notify_queue_bytes=\(limits.queueBytes)): it did not read them, or stayed inside a transaction, while they arrived",
                      hint: "Read notifications promptly and keep transactions short on connections that LISTEN, or raise notify_queue_limit / notify_queue_bytes.")
    }

    // MARK: steps

    /// Forgets the client's query awaiting the listener (its holds released).
    mutating func dropAwaiting(_ client: ClientID) {
        awaitingOrder.removeAll { $0 == client }
        guard var subscriber = clients[client], subscriber.awaiting != nil else { return }
        let holds = subscriber.awaitingHolds
        subscriber.awaiting = nil
        subscriber.awaitingHolds = []
        clients[client] = subscriber
        for channel in holds { release(channel) }
        forgetIfEmpty(client)
    }

    func listenedChannels(_ ops: [ListenOp]) -> [String] {
        var seen = Set<String>()
        var channels: [String] = []
        for case .listen(let channel) in ops where seen.insert(channel).inserted { channels.append(channel) }
        return channels
    }

    /// The batch in flight UNLISTENs `channel` (so `listened` says yes for a moment longer).
    func inFlightUnlistens(_ channel: String) -> Bool {
        inFlight?.unlisten.contains(channel) ?? false
    }

    /// The channel limit: the query's new channels must fit beside the wanted ones.
    func limitRefusal(for ops: [ListenOp]) -> ErrorResponse? {
        let added = listenedChannels(ops).filter { wanted[$0] == nil }.count
        guard added > 0, wanted.count + added > limits.maxChannels else { return nil }
        return ErrorResponse(severity: .error, code: SQLState.programLimitExceeded,
                             message: "too many LISTEN channels in this pool (notify_max_channels=\(limits.maxChannels))",
                             hint: "Use fewer channels (a channel per entity can often be one channel with the id in the payload), or raise notify_max_channels.")
    }

    mutating func apply(_ ops: [ListenOp], to client: ClientID) {
        var subscriber = clients[client] ?? Subscriber()
        for op in ops {
            switch op {
            case .listen(let channel):
                guard subscriber.channels.insert(channel).inserted else { continue }
                subscribers[channel, default: []].insert(client)
                hold(channel)
            case .unlisten(let channel):
                guard subscriber.channels.remove(channel) != nil else { continue }
                unsubscribe(client, from: channel)
            case .unlistenAll:
                for channel in subscriber.channels { unsubscribe(client, from: channel) }
                subscriber.channels = []
            }
        }
        clients[client] = subscriber
        forgetIfEmpty(client)
    }

    mutating func unsubscribe(_ client: ClientID, from channel: String) {
        subscribers[channel]?.remove(client)
        if subscribers[channel]?.isEmpty == true { subscribers[channel] = nil }
        release(channel)
    }

    mutating func hold(_ channel: String) {
        wanted[channel, default: 0] += 1
    }

    mutating func release(_ channel: String) {
        guard let count = wanted[channel] else { return }
        wanted[channel] = count > 1 ? count - 1 : nil
    }

    mutating func remove(_ client: ClientID) {
        guard let subscriber = clients[client] else { return }
        awaitingOrder.removeAll { $0 == client }
        for channel in subscriber.channels { unsubscribe(client, from: channel) }
        for channel in subscriber.pendingHolds + subscriber.awaitingHolds { release(channel) }
        clients[client] = nil
    }

    mutating func forgetIfEmpty(_ client: ClientID) {
        if clients[client]?.isEmpty == true { clients[client] = nil }
    }
}
