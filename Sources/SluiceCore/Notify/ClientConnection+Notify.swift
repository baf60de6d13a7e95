// ClientConnection+Notify: a transaction-mode client's LISTEN/UNLISTEN answered by Sluice, and notifications delivered to it.
import PostgresWire
import SluiceIO

/// A client's part of the notification relay, made at its first LISTEN/UNLISTEN query the relay
/// takes (`ClientConnection.notify`; nil for every other client, so the relay path's checks of it
/// cost one load).
final class ClientNotifications {
    unowned(unsafe) let relay: NotificationRelay  // pools (and their relays) outlive their clients
    /// LISTEN queries inside a transaction, answered in order with the server's replies: each has
    /// a `syntheticListen` slot on the server, answered by `answerQueuedListen`.
    var queuedAnswers: [ListenRequest] = []
    /// Statements of the open transaction wait for its COMMIT (the server relay looks at
    /// CommandComplete `COMMIT` and ReadyForQuery `I` only while this is set).
    var awaitsCommit = false
    /// A LISTEN query (outside a transaction) waiting for the listener to LISTEN; the client is not
    /// read meanwhile.
    var awaited: ListenRequest?

    init(relay: NotificationRelay) {
        self.relay = relay
    }
}

/// What the client relay does with a Query that may be a LISTEN query (`interceptListen`).
enum ListenInterception {
    /// Not one Sluice answers: forward it.
    case forward
    /// Wait for the rest of the message.
    case incomplete
    /// Taken: the relay skips the message (its answer comes in order with the server's).
    case answered
    /// The server could not be written to (the client was told): stop.
    case stop
}

extension ClientConnection {
    // MARK: which queries

    /// This client's LISTEN/UNLISTEN queries go to the relay: its pool relays them (transaction
    /// mode, `notify_relay`), or it subscribed through the relay before a reload turned it off.
    var relaysListen: Bool { notify != nil || pool?.interceptsListen == true }

    /// The client's state in the relay, made on first use.
    private func notifications() -> ClientNotifications? {
        if let notify { return notify }
        guard let pool else { return nil }
        let made = ClientNotifications(relay: pool.notificationRelay())
        notify = made
        return made
    }

    /// The text of the Query at `position` that has arrived (without its NUL), and whether all of it has.
    @inline(__always)
    private func queryText(at position: Int, length: Int, available: Int) -> (UnsafeRawBufferPointer, complete: Bool) {
        let end = min(available, position + length)  // the text ends where the NUL is
        return (UnsafeRawBufferPointer(start: input.readPointer + position + 5, count: max(end - position - 5, 0)),
                available >= position + length + 1)
    }

    // MARK: a client holding no server

    /// A client without a server whose next message is a LISTEN/UNLISTEN query is answered by
    /// Sluice, without a server (like `answerParseSyncLocally`). Returns true when it answered
    /// and the client may go on; false when the message is not such a query, or the answer waits
    /// for the listener (`awaited`; the client is not read until `listenerAnswered`).
    func answerListenLocally() -> Bool {
        guard phase == .idle, notify?.awaited == nil, relaysListen else { return false }
        let available = input.readableBytes
        guard available > 5, input.byte(at: 0) == Query.typeCode, ListenStatements.mayStart(input.byte(at: 5)) else { return false }
        let scanner = FrameScanner(maxMessageSize: runtime.config.maxPacketSize)
        guard case .message(_, let length) = input.frame(at: 0, available: available, scanner: scanner) else { return false }
        let (text, complete) = queryText(at: 0, length: length, available: available)
        guard complete, ListenStatements.prefix(text, complete: true) == .maybe,
              let request = ListenStatements.parse(text), let notify = notifications() else { return false }
        input.consume(length + 1)
        switch notify.relay.listenRequested(self, ops: request.ops, waitForListener: true) {
        case .done:
            send(Self.listenAnswer(request, error: nil, status: .idle))
        case .refused(let error):
            send(Self.listenAnswer(request, error: error, status: .idle))
        case .awaitingListener:
            notify.awaited = request
            updateInterest()
            return false
        }
        return phase == .idle
    }

    /// The first message is a Query that may be a LISTEN query but has not all arrived, or the
    /// client's LISTEN waits for the listener: `processIdle` takes no server for it yet.
    var listenHoldsRequest: Bool {
        if notify?.awaited != nil { return true }
        let available = input.readableBytes
        guard relaysListen, input.byte(at: 0) == Query.typeCode, available <= 5 || ListenStatements.mayStart(input.byte(at: 5))
        else { return false }
        let scanner = FrameScanner(maxMessageSize: runtime.config.maxPacketSize)
        guard case .message(_, let length) = input.frame(at: 0, available: available, scanner: scanner) else { return false }
        let (text, complete) = queryText(at: 0, length: length, available: available)
        return !complete && ListenStatements.prefix(text, complete: false) != .no
    }

    /// The listener now LISTENs to the awaited query's channels (`error` nil), or could not:
    /// the client gets its answer and is read again.
    func listenerAnswered(error: ErrorResponse?) {
        guard let notify, let request = notify.awaited else { return }
        notify.awaited = nil
        guard phase != .closed else { return }
        send(Self.listenAnswer(request, error: error, status: .idle))
        updateInterest()
        // What the client sent meanwhile is read on the loop's next turn, not inside the relay's action.
        runtime.loop.execute { [self] in
            guard phase == .idle, input.readableBytes > 0 else { return }
            process()
        }
    }

    // MARK: a client inside a transaction

    /// The relay scan met a Query on a linked server (`ClientConnection.relayToServer`): a
    /// LISTEN/UNLISTEN query is answered by Sluice in order with what the server still answers
    /// (a `syntheticListen` response slot, as for `DEALLOCATE`), and takes effect at COMMIT.
    /// Needs the response-slot queue (`max_prepared_statements` > 0), or nothing in flight.
    func interceptListen(at position: Int, length: Int, available: Int, server: ServerConnection, tracksSlots: Bool,
                         forwardFrom: inout Int) -> ListenInterception {
        let (text, complete) = queryText(at: position, length: length, available: available)
        switch ListenStatements.prefix(text, complete: complete) {
        case .no: return .forward
        case .needMore: return .incomplete
        case .maybe: if !complete { return .incomplete }
        }
        // Inside an extended-protocol batch the server may be skipping to Sync: leave it alone.
        guard !session.unsynced, tracksSlots || server.pendingReadyForQuery == 0,
              let request = ListenStatements.parse(text), let notify = notifications() else { return .forward }
        if position > forwardFrom && !server.send(input.readPointer + forwardFrom, count: position - forwardFrom) { return .stop }
        notify.queuedAnswers.append(request)
        server.pushSlot(.syntheticListen, emitNow: false)
        return .answered
    }

    /// The server reached this client's `syntheticListen` slot with transaction status `status`:
    /// answer the query (PostgreSQL's 25P02 in a failed transaction) and record what it did.
    /// Returns false if the client is gone.
    func answerQueuedListen(status: TransactionStatus) -> Bool {
        guard let notify, !notify.queuedAnswers.isEmpty else {
            return Self.bytes(ReadyForQuery(status: status)).withUnsafeBytes { sendToClient($0.baseAddress!, count: $0.count) }
        }
        let request = notify.queuedAnswers.removeFirst()
        let answer: [UInt8]
        switch status {
        case .failed:
            answer = Self.listenAnswer(request, error: ErrorResponse(
                severity: .error, code: SQLState.inFailedSQLTransaction,
                message: "current transaction is aborted, commands ignored until end of transaction block"), status: status)
        case .inTransaction:
            switch notify.relay.listenInTransaction(self, ops: request.ops) {
            case .refused(let error):
                answer = Self.listenAnswer(request, error: error, status: status)
            case .done, .awaitingListener:
                notify.awaitsCommit = true
                answer = Self.listenAnswer(request, error: nil, status: status)
            }
        case .idle:
            // Pipelined after the end of a transaction: in effect now (no waiting in the server's queue).
            switch notify.relay.listenRequested(self, ops: request.ops, waitForListener: false) {
            case .refused(let error): answer = Self.listenAnswer(request, error: error, status: status)
            case .done, .awaitingListener: answer = Self.listenAnswer(request, error: nil, status: status)
            }
        }
        return answer.withUnsafeBytes { sendToClient($0.baseAddress!, count: $0.count) }
    }

    /// The server relay saw this client's transaction COMMIT (CommandComplete `COMMIT`).
    func notifyTransactionCommitted() {
        guard let notify, notify.awaitsCommit else { return }
        notify.awaitsCommit = false
        notify.relay.transactionCommitted(self)
    }

    /// The server relay saw a ReadyForQuery (raw status byte): at `I` a transaction that did not
    /// COMMIT is over, and its LISTEN/UNLISTEN statements with it.
    func notifyReadyForQuery(status: UInt8) {
        guard status == TransactionStatus.idle.rawValue, let notify, notify.awaitsCommit else { return }
        notify.awaitsCommit = false
        notify.relay.transactionEnded(self)
    }

    /// The server died under this client: queued LISTEN answers will not come (returns how many,
    /// each owed a ReadyForQuery), and the transaction's statements are void.
    func notifyServerLost() -> Int {
        guard let notify else { return 0 }
        let lost = notify.queuedAnswers.count
        notify.queuedAnswers.removeAll()
        if notify.awaitsCommit {
            notify.awaitsCommit = false
            notify.relay.transactionEnded(self)
        }
        return lost
    }

    // MARK: delivery

    /// Outside a transaction (PostgreSQL delivers only there) with its socket not backed up: it
    /// holds no server, or keeps one between transactions (a client pinned to its server, or a
    /// server not given back yet) with nothing in flight and the stream at a message boundary.
    var canReceiveNotifications: Bool {
        guard !socket.hasPendingWrites else { return false }
        switch phase {
        case .idle, .waiting: return true
        case .linked: return !session.unsynced && (server?.isIdleBetweenTransactions ?? false)
        default: return false
        }
    }

    /// Writes one whole NotificationResponse; false if the client is gone.
    func sendNotification(_ bytes: [UInt8]) -> Bool {
        pool?.countSent(bytes.count)
        return bytes.withUnsafeBytes { sendToClient($0.baseAddress!, count: $0.count) }
    }

    /// The client may take notifications again: what waited for it goes out.
    func deliverNotifications() {
        notify?.relay.drain(self)
    }

    /// The client's queue overflowed: FATAL and close (the error only where the stream is between
    /// two messages; a server relaying a message to it is at a message's end unless `passthrough`).
    func closeForNotificationOverflow(_ error: ErrorResponse) {
        guard phase != .closed else { return }
        runtime.logger.warning("client closed: too many notifications waiting for it", metadata: [
            "client": "\(peer)", "database": "\(database)", "application_name": "\(applicationName)"])
        if server.map({ $0.passthrough == 0 }) ?? true {
            closeWithError(error, reason: "notify_queue_overflow")
        } else {
            close(reason: "notify_queue_overflow", error: error)
        }
    }

    /// The client closed: leave the relay.
    func notifyClientClosed() {
        notify?.relay.clientLeft(self)
    }

    // MARK: answers

    /// NOTICEs for truncated names, then CommandComplete per statement (or `error`), then ReadyForQuery.
    static func listenAnswer(_ request: ListenRequest, error: ErrorResponse?, status: TransactionStatus) -> [UInt8] {
        var bytes: [UInt8] = []
        for notice in request.truncationNotices {
            NoticeResponse(severity: .notice, code: SQLState.nameTooLong, message: notice).encode(into: &bytes)
        }
        if let error {
            error.encode(into: &bytes)
        } else {
            for op in request.ops { CommandComplete(tag: op.tag).encode(into: &bytes) }
        }
        ReadyForQuery(status: status).encode(into: &bytes)
        return bytes
    }

    private static func bytes(_ message: ReadyForQuery) -> [UInt8] { message.encoded }
}
