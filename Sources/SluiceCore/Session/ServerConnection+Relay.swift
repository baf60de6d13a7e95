// ServerConnection+Relay: the server → client relay scan, and the client's requests and statements carried to the session machine.
import PostgresWire
import SluiceIO

extension ServerConnection {
    // MARK: requests from the client

    /// Transaction mode maps client statement names to shared server-side ones.
    var tracksStatements: Bool {
        pool.settings.mode == .transaction && runtime.config.maxPreparedStatements > 0
    }

    /// The linked client forwarded a Query, Sync or FunctionCall: one more ReadyForQuery is owed.
    @inline(__always) func requestForwarded(now: UInt64) {
        session.requestForwarded(now: now)
    }

    /// query_timeout ran out for the running request: cancels it on the backend, once.
    /// Returns whether a cancel was sent.
    func queryTimedOut() -> Bool {
        guard case .cancelQuery = session.queryTimedOut() else { return false }
        cancelBackend()
        return true
    }

    /// Sends a CancelRequest for this server's backend on a new connection.
    func cancelBackend() {
        guard let key = backendKey else { return }
        let url = pool.settings.url
        CancelForwarder.send(StartupPacket.cancelRequest(processID: key.processID, secretKey: key.secretKey).encoded,
                             host: url.host, port: url.port, timeout: pool.settings.serverConnectTimeout, loop: runtime.loop)
    }

    /// Records a request in flight; a synthetic answer at the head is sent at once unless the
    /// caller sends it later with `emitPendingSynthetics` (the client relay does, after consuming its input).
    func pushSlot(_ slot: ResponseSlot, emitNow: Bool = true) {
        let action = session.requestQueued(slot)
        if emitNow { run(action) }
    }

    /// Sends synthetic answers now at the head of the queue.
    func emitPendingSynthetics() {
        if session.answersDue { run(.sendAnswers) }
    }

    /// The client sent Parse for `serverName`: prepare it unless this server already has it.
    func prepare(_ serverName: String, key: StatementKey, forClientParse clientName: String) {
        run(session.parseRequested(serverName, key: key, clientName: clientName, limit: runtime.config.maxPreparedStatements))
    }

    /// A Bind or Describe needs `serverName` here: prepare it first, hiding the reply from the client.
    func ensurePrepared(_ serverName: String, key: StatementKey) {
        run(session.statementNeeded(serverName, key: key, limit: runtime.config.maxPreparedStatements))
    }

    /// Carries out one of the session machine's actions off the relay path.
    private func run(_ action: ServerSessionMachine.Action) {
        switch action {
        case .none:
            break
        case .sendAnswers:
            guard let client else { return }
            if case .release = sendAnswers(to: client) { client.transactionFinished() }
        case .sendParse(let statement, let key, let victim):
            if let victim { send(Close(kind: .statement, name: victim).encoded) }
            pool.countStatementParse()
            send(Parse(statementName: statement, query: key.query, parameterTypeOIDs: key.parameterTypes).encoded)
        case .forgetClientStatements(let names):
            for name in names { client?.statementParseFailed(clientName: name) }
        case .closeServer(let reason):
            input.clear()
            close(reason: reason)
        case .cancelQuery:
            cancelBackend()
        }
    }

    // MARK: answers Sluice gives itself

    private enum AnswersOutcome { case sent, clientGone, release }

    private static let parseCompleteBytes = ParseComplete().encoded
    private static let closeCompleteBytes = CloseComplete().encoded

    /// Sends the answers now due. `.release`: one ended the transaction and the client lets the
    /// server go (the caller gives it back); `.clientGone`: the client could not be written to.
    private func sendAnswers(to client: ClientConnection) -> AnswersOutcome {
        while let answer = session.nextAnswer() {
            let sent: Bool
            switch answer {
            case .sendParseComplete:
                sent = Self.parseCompleteBytes.withUnsafeBytes { client.sendToClient($0.baseAddress!, count: $0.count) }
            case .sendCloseComplete:
                sent = Self.closeCompleteBytes.withUnsafeBytes { client.sendToClient($0.baseAddress!, count: $0.count) }
            case .sendDeallocateComplete(let status):
                var bytes: [UInt8] = []
                CommandComplete(tag: "DEALLOCATE").encode(into: &bytes)
                ReadyForQuery(status: status).encode(into: &bytes)
                sent = bytes.withUnsafeBytes { client.sendToClient($0.baseAddress!, count: $0.count) }
            case .sendListenComplete(let status):
                sent = client.answerQueuedListen(status: status)
            case .endTransaction:
                if client.transactionIdle() { return .release }
                sent = true
            }
            guard sent else { return .clientGone }
        }
        return .sent
    }

    // MARK: relay server → client

    /// The 7 bytes at `tag` are "COMMIT" and its NUL.
    @inline(__always) static func isCommitTag(_ tag: UnsafeRawPointer) -> Bool {
        let bytes = UnsafeRawBufferPointer(start: tag, count: 7)
        return bytes.elementsEqual("COMMIT\0".utf8)
    }

    func relayToClient() {
        guard let client else { input.clear(); return }
        let available = input.readableBytes
        var position = input.skipPassthrough(&passthrough, available: available)
        var forwardFrom = 0
        var transactionDone = false
        var fatal: ServerSessionMachine.Action?
        /// Sends what has been scanned and not sent yet (before a swallowed or synthetic message).
        func flush() -> Bool {
            guard position > forwardFrom else { return true }
            defer { forwardFrom = position }
            return client.sendToClient(input.readPointer + forwardFrom, count: position - forwardFrom)
        }
        let scanner = FrameScanner(maxMessageSize: runtime.config.maxPacketSize)
        scan: while true {
            let type: UInt8, length: Int
            switch input.frame(at: position, available: available, scanner: scanner) {
            case .incomplete: break scan
            case .invalid: close(reason: "protocol_violation"); return
            case .message(let messageType, let messageLength): type = messageType; length = messageLength
            }
            let total = length + 1
            var next = ServerSessionMachine.RelayAction.forward
            switch type {
            case ReadyForQuery.typeCode:
                guard length == 5 else { close(reason: "protocol_violation"); return }
                guard available - position >= total else { break scan }
                let ready = session.readyForQueryReceived(status: input.byte(at: position + 5), now: runtime.loop.now)
                if client.notify?.awaitsCommit == true { client.notifyReadyForQuery(status: input.byte(at: position + 5)) }
                position += total
                if let milliseconds = ready.queryMilliseconds { pool.countQueryTime(microseconds: milliseconds * 1000) }
                pool.countQuery()
                if let statement = client.setStatementCompleted(applied: ready.settingApplied, failed: ready.failed) {
                    parameters.clientRan(statement)
                    session.settingApplied(statement)
                }
                next = ready.next
            case ErrorResponse.typeCode where total <= 65536:
                guard available - position >= total else { break scan }
                let error = try? ErrorResponse.decode(body: input.bytes(at: position + 5, count: length - 4)[...])
                if error?.code == SQLState.readOnlySQLTransaction { readOnlyErrorReceived() }
                let action = session.errorReceived(error)
                if case .closeServer = action {
                    // Not relayed: Sluice answers for the lost server (ClientConnection.serverLost),
                    // with this very error under server_loss = "close".
                    lostWithError = error
                    fatal = action
                    break scan
                }
                position += total
                run(action)
            case ErrorResponse.typeCode:
                let take = min(total, available - position)
                position += take
                passthrough = total - take
                run(session.errorReceived(nil))
            case ParameterStatus.typeCode where total <= 16384:
                guard available - position >= total else { break scan }
                if let status = try? ParameterStatus.decode(body: input.bytes(at: position + 5, count: length - 4)[...]) {
                    parameters.reported(name: status.name, value: status.value)
                    parameters.setBySluice.insert(status.name.lowercased())
                    client.parameterReported(name: status.name, value: status.value)
                    roleParameterReported(name: status.name)
                }
                position += total
            case CommandComplete.typeCode where length == 11 && client.notify?.awaitsCommit == true:
                // Possibly COMMIT: the client's LISTEN/UNLISTEN statements of this transaction take effect.
                guard available - position >= total else { break scan }
                if Self.isCommitTag(input.readPointer + position + 5) { client.notifyTransactionCommitted() }
                position += total
                next = session.replyReceived(type: type, whole: true)
            case CommandComplete.typeCode where (length == 19 || length == 16) && session.tracksRequests:
                // Possibly DEALLOCATE ALL / DISCARD ALL: the server's statements are gone.
                guard available - position >= total else { break scan }
                let tag = String(decoding: input.bytes(at: position + 5, count: length - 5), as: UTF8.self)
                let droppedAll = ServerSessionMachine.dropsAllStatements(tag: tag)
                if droppedAll { client.allStatementsDeallocated() }
                position += total
                next = session.commandCompleteReceived(droppedAllStatements: droppedAll)
            case ParseComplete.typeCode, CloseComplete.typeCode:
                // Must stay the case just above `default:` (its `fallthrough` goes there).
                guard session.tracksRequests else { fallthrough }
                guard length == 4 else { close(reason: "protocol_violation"); return }
                guard available - position >= total else { break scan }
                next = session.parseOrCloseCompleteReceived()
                if next == .swallow || next == .swallowThenAnswer {
                    guard flush() else { return }
                    forwardFrom = position + total
                }
                position += total
            default:
                let take = min(total, available - position)
                position += take
                passthrough = total - take
                next = session.replyReceived(type: type, whole: take == total)
            }
            switch next {
            case .forward, .swallow:
                break
            case .forwardThenAnswer, .swallowThenAnswer:
                guard flush() else { return }
                switch sendAnswers(to: client) {
                case .sent: break
                case .clientGone: return
                case .release: transactionDone = true; break scan
                }
            case .forwardThenEndTransaction:
                if client.transactionIdle() {
                    transactionDone = true
                    break scan
                }
            }
        }
        if position > forwardFrom {
            guard client.sendToClient(input.readPointer + forwardFrom, count: position - forwardFrom) else { return }
        }
        if position > 0 {
            pool.countSent(position)
            input.consume(position)
        }
        if let fatal {
            run(fatal)
            return
        }
        if transactionDone {
            if input.readableBytes > 0 { input.clear() }  // nothing may follow a final ReadyForQuery
            client.transactionFinished()
        } else {
            input.compact()
            updateInterest()
            // A client that keeps its server between transactions gets what waited for it (Notify/).
            if client.notify != nil { client.deliverNotifications() }
        }
    }
}
