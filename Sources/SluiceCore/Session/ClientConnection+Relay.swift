// ClientConnection+Relay: the client → server relay loop, the server's reports to the session, failed requests, prepared statements.
import Logging
import PostgresWire
import SluiceIO

extension ClientConnection {
    // MARK: what the server tells the session

    /// The server reached ReadyForQuery 'I' with nothing outstanding: the transaction is over.
    /// Returns whether the server may go back to the pool now (transaction mode, no
    /// extended-protocol batch open, no client message half-forwarded).
    func transactionIdle() -> Bool {
        guard let mode = pool?.settings.mode else { return false }
        let end = session.transactionWentIdle(now: runtime.loop.now, mode: mode, clientMidMessage: passthrough > 0)
        run(end.action)
        return end.releaseServer
    }

    /// The janitor reported this client as a leak suspect: not again in this hold.
    func becameLeakSuspect() { session.becameLeakSuspect() }

    /// The server finished the lone SET/RESET this client sent (if any): returns it when it took
    /// effect (`applied`: outside a transaction, no error), after applying it to `wanted`.
    @inline(__always) func setStatementCompleted(applied: Bool, failed: Bool) -> SetStatement? {
        session.setStatementCompleted(applied: applied, failed: failed)
    }

    /// Seconds the current transaction has held its server (nil when idle).
    func heldSeconds(now: UInt64) -> Double? { session.heldSeconds(now: now) }

    /// A ParameterStatus passed through: the client now wants that value wherever it goes.
    func parameterReported(name: String, value: String) {
        session.parameterReported(name: name, value: value)
        applicationParameterReported(name: name, value: value)
    }

    /// The upstream is not accepting connections yet and this client has waited this long: a
    /// NOTICE says so (drivers pass it to the app's notice handler; psql prints it).
    func sendColdStartNotice(database: String, waitedSeconds: Int) {
        send(NoticeResponse(
            severity: .notice, code: SQLState.successfulCompletion,
            message: "waiting for database \"\(database)\" to accept connections (\(waitedSeconds) s)",
            hint: "The upstream is starting or unreachable; Sluice retries until query_wait_timeout.").encoded)
    }

    // MARK: relay client → server

    func relayToServer() {
        guard let server, server.isLinked else { return }
        let mapStatements = server.tracksStatements
        let sessionMode = pool?.settings.mode == .session
        let captureQueries = runtime.config.logLeakQueries
        let interceptsListen = relaysListen
        let now = runtime.loop.now
        let available = input.readableBytes
        var position = input.skipPassthrough(&passthrough, available: available)
        var forwardFrom = 0
        var terminate = false
        let scanner = FrameScanner(maxMessageSize: runtime.config.maxPacketSize)
        scan: while true {
            let type: UInt8, length: Int
            switch input.frame(at: position, available: available, scanner: scanner) {
            case .incomplete: break scan
            case .invalid(_, let badLength):
                if position > forwardFrom { _ = server.send(input.readPointer + forwardFrom, count: position - forwardFrom) }
                input.consume(position)
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                             message: badLength < 4 ? "invalid message length \(badLength)"
                                                : "message of \(badLength) bytes exceeds max_packet_size (\(runtime.config.maxPacketSize))"),
                               reason: "protocol_violation")
                return
            case .message(let messageType, let messageLength): type = messageType; length = messageLength
            }
            let total = length + 1
            session.messageScanned(type: type, now: now)
            var slot: ResponseSlot?
            switch type {
            case UInt8(ascii: "X"):
                terminate = true
                break scan
            case UInt8(ascii: "Q"), UInt8(ascii: "S"), UInt8(ascii: "F"):
                if type == UInt8(ascii: "Q") && mapStatements {
                    guard available - position >= total else { break scan }
                    if let name = QueryInspector.deallocatedStatementName(message(at: position, length: length, available: available),
                                                                          length: length), statements.knows(name) {
                        // Sluice keeps the shared server-side statement; only the client's name goes.
                        if position > forwardFrom && !server.send(input.readPointer + forwardFrom, count: position - forwardFrom) { return }
                        statements.forget(name)
                        position += total
                        forwardFrom = position
                        server.pushSlot(.syntheticDeallocate, emitNow: false)
                        continue
                    }
                }
                if type == UInt8(ascii: "Q") && interceptsListen
                    && (available - position <= 5 || ListenStatements.mayStart(input.byte(at: position + 5))) {
                    // LISTEN/UNLISTEN: Sluice answers in order and the relay listens (Notify/).
                    switch interceptListen(at: position, length: length, available: available, server: server,
                                           tracksSlots: mapStatements, forwardFrom: &forwardFrom) {
                    case .forward: break
                    case .incomplete: break scan
                    case .stop: return
                    case .answered:
                        position += total
                        forwardFrom = position
                        continue
                    }
                }
                server.requestForwarded(now: now)
                slot = type == UInt8(ascii: "S") ? .sync : .query
                inspect(session.requestScanned(type: type, serverIdle: server.transactionStatus == .idle,
                                               captureQueries: captureQueries),
                        type: type, at: position, length: length, available: available, sessionMode: sessionMode)
            case UInt8(ascii: "P"), UInt8(ascii: "B"), UInt8(ascii: "D"), UInt8(ascii: "E"), UInt8(ascii: "C"):
                inspect(session.requestScanned(type: type, serverIdle: server.transactionStatus == .idle,
                                               captureQueries: captureQueries),
                        type: type, at: position, length: length, available: available, sessionMode: sessionMode)
                if mapStatements && type != UInt8(ascii: "E") {
                    guard let named = StatementMapper.refersToNamedStatement(
                        type: type, base: UnsafeRawPointer(input.readPointer), body: position + 5, available: available)
                    else { break scan }
                    if named {
                        guard available - position >= total else { break scan }
                        if position > forwardFrom && !server.send(input.readPointer + forwardFrom, count: position - forwardFrom) { return }
                        let body = input.bytes(at: position + 5, count: length - 4)[...]
                        position += total
                        forwardFrom = position
                        guard rewriteStatementMessage(type: type, body: body, server: server) else { return }
                        continue
                    }
                }
                switch type {
                case UInt8(ascii: "P"): slot = .parse(serverName: nil, clientName: nil)
                case UInt8(ascii: "B"): slot = .bind
                case UInt8(ascii: "E"): slot = .execute
                case UInt8(ascii: "C"): slot = .close
                default:
                    slot = available - position > 5 && input.byte(at: position + 5) == UInt8(ascii: "S")
                        ? .describeStatement : .describePortal
                }
            default:
                break
            }
            if mapStatements, let slot { server.pushSlot(slot) }
            let take = min(total, available - position)
            position += take
            passthrough = total - take
        }
        if position > forwardFrom {
            session.requestForwarded(now: now)
            guard server.send(input.readPointer + forwardFrom, count: position - forwardFrom) else { return }
        }
        if position > 0 {
            pool?.countReceived(position)
            input.consume(position)
        }
        if terminate { close(reason: "client_close"); return }
        input.compact()
        // Answers Sluice gives itself go out after the input is consumed: one of them may end
        // the transaction and hand the server back, and the next message must start afresh.
        server.emitPendingSynthetics()
        updateInterest()
    }

    /// The bytes of the message at `position` that have arrived (at most the whole message).
    @inline(__always) private func message(at position: Int, length: Int, available: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: input.readPointer + position, count: min(length + 1, available - position))
    }

    /// Reads in a forwarded message what the session machine asked for, and reports it back.
    @inline(__always) private func inspect(_ inspection: ClientSessionMachine.Inspection, type: UInt8, at position: Int,
                                           length: Int, available: Int, sessionMode: Bool) {
        guard !inspection.isEmpty else { return }
        let bytes = message(at: position, length: length, available: available)
        if inspection.contains(.sessionState) {
            let effect = SessionStateScan.scan(QueryInspector.statementText(type: type, bytes, length: length))
            if !effect.isEmpty {
                pinned(session.sessionStateScanned(effect)) {
                    QueryInspector.captureQuery(bytes, length: length, skipName: type == Parse.typeCode)
                }
            }
            if sessionMode && type == Parse.typeCode && bytes.count > 5 && bytes[5] != 0 { session.sessionStateBecameUnknown() }
        }
        if !inspection.isDisjoint(with: [.captureQuery, .captureParse]),
           let text = QueryInspector.captureQuery(bytes, length: length, skipName: inspection.contains(.captureParse)) {
            session.queryCaptured(text)
        }
        if inspection.contains(.setStatement), case .checked(let statement) = QueryInspector.detectSetStatement(bytes, length: length) {
            session.setQueryScanned(statement)
        }
    }

    // MARK: after a lost transaction

    /// Answers the request after a lost transaction: drops messages up to the next Query or Sync,
    /// then sends the saved ERROR and ReadyForQuery 'I' (the session machine decides which).
    func answerFailedRequest() {
        let scanner = FrameScanner(maxMessageSize: runtime.config.maxPacketSize)
        while session.failsNextRequest {
            let type: UInt8
            switch input.frame(at: 0, available: input.readableBytes, scanner: scanner) {
            case .incomplete: return
            case .invalid(_, let length):
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                             message: "invalid message length \(length)"), reason: "protocol_violation")
                return
            case .message(let messageType, let length):
                if messageType == UInt8(ascii: "X") { close(reason: "client_close"); return }
                guard input.readableBytes >= length + 1 else { return }
                input.consume(length + 1)
                type = messageType
            }
            run(session.failedRequestMessageScanned(type: type))
        }
        if input.readableBytes > 0 { process() }
    }

    // MARK: prepared statements (transaction mode)

    /// Runs the mapper's answer to one message naming a statement. Returns false if the client
    /// was closed or the server could not be written to.
    private func rewriteStatementMessage(type: UInt8, body: ArraySlice<UInt8>, server: ServerConnection) -> Bool {
        guard let pool else { return false }
        switch statements.statementMessageReceived(type: type, body: body, serverName: pool.serverStatementName(for:)) {
        case .prepare(let serverName, let key, let clientName):
            server.prepare(serverName, key: key, forClientParse: clientName)
            return true
        case .forward(let bytes, let slot, let ensurePrepared):
            if let ensurePrepared { server.ensurePrepared(ensurePrepared.serverName, key: ensurePrepared.key) }
            if type == Bind.typeCode, let effect = ensurePrepared?.sessionEffect {
                pinned(session.sessionStateScanned(effect)) { ensurePrepared.map { QueryInspector.escapedForLog($0.key.query) } }
            }
            server.pushSlot(slot)
            return server.send(bytes)
        case .answerCloseComplete:
            server.pushSlot(.syntheticCloseComplete)
            return true
        case .closeClient(let error, let reason):
            closeWithError(error, reason: reason)
            return false
        }
    }

    /// A client Parse failed on the server: the client has no such statement.
    func statementParseFailed(clientName: String) {
        statements.forget(clientName)
    }

    /// The server ran `DEALLOCATE ALL` or `DISCARD ALL` for this client: its names are gone too.
    func allStatementsDeallocated() {
        statements.forgetAll()
    }

    /// A client without a server that only prepares (Parse + Sync, libpq's PQprepare) is answered
    /// by Sluice: the statement is prepared on a server when a Bind or Describe first needs it.
    /// Waiting for a server just to prepare can deadlock a single-threaded client that holds other
    /// connections' transactions open (pgbench -M prepared with more clients than servers).
    /// A statement with an error then reports it at its first Bind rather than at Parse.
    func answerParseSyncLocally() -> Bool {
        guard phase == .idle, pool?.settings.mode == .transaction, runtime.config.maxPreparedStatements > 0,
              let pool else { return false }
        let scanner = FrameScanner(maxMessageSize: runtime.config.maxPacketSize)
        let available = input.readableBytes
        guard case .message(UInt8(ascii: "P"), let parseLength) = input.frame(at: 0, available: available, scanner: scanner),
              parseLength >= 6, available >= parseLength + 1 + 5,
              input.byte(at: 5) != 0,  // named
              case .message(UInt8(ascii: "S"), 4) = input.frame(at: parseLength + 1, available: available, scanner: scanner)
        else { return false }
        guard let parse = try? Parse.decode(body: input.bytes(at: 5, count: parseLength - 4)[...]) else { return false }
        input.consume(parseLength + 1 + 5)
        guard statements.parsedLocally(parse, serverName: pool.serverStatementName(for:)) != nil else {
            closeWithError(StatementMapper.tooManyStatementsError, reason: StatementMapper.tooManyStatementsReason)
            return false
        }
        var reply = ParseComplete().encoded
        ReadyForQuery(status: .idle).encode(into: &reply)
        send(reply)
        return phase == .idle
    }
}
