// NotificationRelay: runs one pool's NotificationHub: the listener connection, timers, and the clients it delivers to.
import Logging
import PostgresWire
import SluiceIO

/// A pool's LISTEN/NOTIFY relay (transaction mode, `notify_relay`). Loop-confined; made by its
/// `Pool` on the first LISTEN. Every decision is the `NotificationHub`'s: this class feeds it
/// events and carries out its actions, and owns what it must not: the listener's
/// `ServerConnection` (the pool's own login machinery, TLS and authentication, with
/// `application_name=sluice-listener`), the timers, and the subscribed clients' connections.
final class NotificationRelay {
    unowned(unsafe) let pool: Pool  // pools are never freed while the process runs
    private var runtime: ProxyRuntime { pool.runtime }
    private(set) var hub: NotificationHub
    /// Clients the hub may name in its actions, until they leave.
    private var members: [ClientID: ClientConnection] = [:]
    /// The listener connection (connecting or logged in).
    private(set) var listener: ServerConnection?
    /// The first error of the batch in flight on the listener.
    private var batchError: ErrorResponse?
    private var reconnectTimer: Timer?
    private var graceTimer: Timer?

    /// What the listener sends at login: a name an admin can find in pg_stat_activity, and UTF-8
    /// (notifications are relayed as the listener receives them).
    static let applicationName = "sluice-listener"
    let startupParameters: [(String, String)] = [("application_name", NotificationRelay.applicationName),
                                                  ("client_encoding", "UTF8")]

    init(pool: Pool) {
        self.pool = pool
        self.hub = NotificationHub(limits: Self.limits(pool.settings))
    }

    static func limits(_ settings: PoolSettings) -> NotificationHub.Limits {
        NotificationHub.Limits(maxChannels: settings.notifyMaxChannels, queueMessages: settings.notifyQueueLimit,
                               queueBytes: settings.notifyQueueBytes,
                               maxReconnectDelay: UInt64(max(settings.serverLoginRetry, 0.1) * 1000),
                               listenWaitTimeout: UInt64(settings.queryWaitTimeout * 1000))
    }

    private var now: UInt64 { runtime.loop.now }
    private var logger: Logger { runtime.logger }
    /// Listener servers this relay has open (0 or 1), counted against `max_db_connections`.
    var serverCount: Int { listener == nil ? 0 : 1 }

    // MARK: events from clients

    /// A LISTEN/UNLISTEN query of `client` outside a transaction (see `NotificationHub.listenRequested`).
    func listenRequested(_ client: ClientConnection, ops: [ListenOp], waitForListener: Bool) -> NotificationHub.Outcome {
        let id = join(client)
        let (outcome, actions) = hub.listenRequested(id, ops: ops, waitForListener: waitForListener, now: now)
        run(actions)
        return outcome
    }

    /// A LISTEN/UNLISTEN query of `client` inside its transaction block: it takes effect at COMMIT.
    func listenInTransaction(_ client: ClientConnection, ops: [ListenOp]) -> NotificationHub.Outcome {
        let id = join(client)
        let (outcome, actions) = hub.listenInTransaction(id, ops: ops, now: now)
        run(actions)
        return outcome
    }

    func transactionCommitted(_ client: ClientConnection) {
        run(hub.transactionCommitted(ClientID(client.id), now: now))
    }

    func transactionEnded(_ client: ClientConnection) {
        run(hub.transactionEnded(ClientID(client.id), now: now))
    }

    /// The client closed: it is unsubscribed from everything (channels nobody wants are UNLISTENed).
    func clientLeft(_ client: ClientConnection) {
        let id = ClientID(client.id)
        guard members.removeValue(forKey: id) != nil else { return }
        run(hub.clientLeft(id, now: now))
    }

    /// The client can take notifications again (it gave its server back, or its socket drained):
    /// sends what waited, oldest first, while it can.
    func drain(_ client: ClientConnection) {
        let id = ClientID(client.id)
        while client.canReceiveNotifications, let bytes = hub.takeQueued(id) {
            guard client.sendNotification(bytes) else { return }
        }
    }

    private func join(_ client: ClientConnection) -> ClientID {
        let id = ClientID(client.id)
        if members[id] == nil { members[id] = client }
        return id
    }

    // MARK: events from the listener connection (ServerConnection+Listener.swift)

    func listenerLoggedIn(_ server: ServerConnection) {
        guard server === listener else { return }
        logger.info("notification listener connected", metadata: [
            "database": "\(pool.settings.database)", "backend_pid": "\(server.backendKey?.processID ?? 0)"])
        batchError = nil
        run(hub.listenerConnected(now: now))
    }

    func listenerLoginFailed(_ server: ServerConnection, failure: ServerLoginFailure) {
        guard server === listener else { return }
        detachListener()
        logger.warning("notification listener login failed", metadata: [
            "database": "\(pool.settings.database)", "error": "\(failure)", "retry": "\(failure.retryable)"])
        run(hub.listenerLoginFailed(reason: failure.description, retryable: failure.retryable,
                                    jitter: Double.random(in: 0.75...1.25), now: now))
    }

    func listenerClosed(_ server: ServerConnection, reason: String) {
        guard server === listener else { return }
        detachListener()
        logger.warning("notification listener lost; reconnecting (notifications sent meanwhile are lost)", metadata: [
            "database": "\(pool.settings.database)", "reason": "\(reason)", "channels": "\(hub.channelCount)"])
        run(hub.listenerLost(reason: reason, jitter: Double.random(in: 0.75...1.25), now: now))
    }

    /// A NotificationResponse (`body` after the header): relayed to the channel's subscribers as received.
    func notificationReceived(body: ArraySlice<UInt8>) {
        // processID (4 bytes), then the channel as a C string.
        guard body.count > 4, let end = body[(body.startIndex + 4)...].firstIndex(of: 0) else { return }
        let channel = String(decoding: body[(body.startIndex + 4)..<end], as: UTF8.self)
        let length = UInt32(body.count + 4)
        var bytes: [UInt8] = [NotificationResponse.typeCode, UInt8(truncatingIfNeeded: length >> 24),
                              UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8),
                              UInt8(truncatingIfNeeded: length)]
        bytes.append(contentsOf: body)
        run(hub.notificationReceived(channel: channel, bytes: bytes) { [members] id in
            members[id]?.canReceiveNotifications ?? false
        })
    }

    /// An ErrorResponse (not FATAL) answering the batch in flight.
    func listenerError(_ error: ErrorResponse) {
        if batchError == nil { batchError = error }
    }

    /// ReadyForQuery: the batch in flight is over.
    func listenerReady() {
        let error = batchError
        batchError = nil
        if let error {
            logger.error("notification listener could not LISTEN; reconnecting", metadata: [
                "database": "\(pool.settings.database)", "error": "\(error.code ?? "") \(error.message ?? "")"])
        }
        run(hub.listenerBatchFinished(error: error, jitter: Double.random(in: 0.75...1.25), now: now))
    }

    // MARK: from the pool

    /// Once a second (the pool's janitor).
    func tick() {
        run(hub.tick(now: now))
    }

    /// A reload: new limits; a new upstream URL replaces the listener connection (it reconnects
    /// to the new upstream and LISTENs again, as after a loss).
    func settingsChanged(upstreamChanged: Bool) {
        hub.limitsChanged(Self.limits(pool.settings))
        if upstreamChanged, let listener { listener.close(reason: "config_changed") }
    }

    func shutdown() {
        reconnectTimer?.cancel()
        graceTimer?.cancel()
        members = [:]
        run(hub.shutdown())
    }

    // MARK: carrying out actions

    private func run(_ actions: [NotificationHub.Action]) {
        for action in actions {
            switch action {
            case .openListener(let reconnect):
                openListener(reconnect: reconnect)
            case .sendListenerQuery(let sql):
                batchError = nil
                listener?.send(Query(sql).encoded)
            case .closeListener(let reason):
                guard let server = listener else { continue }
                detachListener()
                server.close(reason: reason)
            case .scheduleReconnect(let milliseconds):
                reconnectTimer?.cancel()
                reconnectTimer = runtime.loop.timers.schedule(now: now, afterMilliseconds: milliseconds) { [self] in
                    self.reconnectTimer = nil
                    self.run(self.hub.reconnectTimerFired(now: self.now))
                }
            case .scheduleGrace(let milliseconds):
                graceTimer?.cancel()
                graceTimer = runtime.loop.timers.schedule(now: now, afterMilliseconds: milliseconds) { [self] in
                    self.graceTimer = nil
                    self.run(self.hub.graceTimerFired(now: self.now))
                }
            case .answerListen(let id):
                members[id]?.listenerAnswered(error: nil)
            case .failListen(let id, let error):
                members[id]?.listenerAnswered(error: error)
            case .deliver(let id, let messages):
                guard let client = members[id] else { continue }
                for bytes in messages where !client.sendNotification(bytes) { break }
            case .closeClient(let id, let error):
                members[id]?.closeForNotificationOverflow(error)
            }
        }
    }

    private func openListener(reconnect: Bool) {
        guard listener == nil else { return }
        let server = ServerConnection(pool: pool, runtime: runtime, poolID: ServerID(number: 0, slot: Int.max))
        server.notificationRelay = self
        listener = server
        pool.listenerServersChanged()
        logger.info(reconnect ? "notification listener reconnecting" : "notification listener opening", metadata: [
            "database": "\(pool.settings.database)", "channels": "\(hub.channelCount)"])
        server.connect()
    }

    /// Forgets the listener connection (its later reports are ignored).
    private func detachListener() {
        guard listener != nil else { return }
        listener = nil
        batchError = nil
        pool.listenerServersChanged()
    }
}
