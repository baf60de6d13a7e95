// ServerConnection: one upstream PostgreSQL connection: login, relay to its client, internal queries.
import Logging
import PostgresWire
import SluiceIO

/// A connection from Sluice to the upstream. Loop-confined; its pool owns it.
public final class ServerConnection: IOHandler {
    enum State {
        case connecting
        /// SSLRequest sent; waiting for 'S' or 'N'.
        case negotiatingTLS
        case tlsHandshake
        /// Authenticating (`login` holds the exchange).
        case loggingIn
        case idle
        /// Relaying between the client and the server.
        case linked
        /// Running Sluice's own statements (parameter alignment, ROLLBACK, reset); replies are absorbed.
        case internalQuery
        case closed
    }

    unowned(unsafe) let pool: Pool  // pools are never freed while the process runs (retired ones are kept)
    unowned(unsafe) let runtime: ProxyRuntime  // the runtime outlives every connection and pool
    /// A payload-free enum, so the relay path's checks of it copy nothing.
    private(set) var state: State = .connecting
    /// The login exchange while `state` is `.loggingIn` (dropped with its secrets afterwards).
    private var login: ServerLoginMachine?
    private var connector: Connector?
    private(set) var socket: TCPSocket?
    let input = ByteBuffer(capacity: 4096)
    private(set) var client: ClientConnection?
    public private(set) var parameters = ServerParameterState()
    public private(set) var backendKey: BackendKeyData?
    public let id: UInt64
    /// This server's id in its pool's state machine.
    let poolID: ServerID
    public let createdAt: UInt64
    public private(set) var idleSince: UInt64
    public private(set) var linkedSince: UInt64 = 0
    public private(set) var transactionStatus: TransactionStatus = .idle
    /// ReadyForQuery messages still owed for Query/Sync messages forwarded.
    private(set) var pendingReadyForQuery = 0
    /// Bytes of a server message still to forward unparsed.
    private var passthrough = 0
    /// Loop time the oldest outstanding query was sent (for query_timeout); 0 when none.
    private(set) var queryStartedAt: UInt64 = 0
    /// query_timeout already fired for the running query.
    private(set) var queryTimeoutFired = false
    /// An ErrorResponse passed since the last ReadyForQuery.
    private var sawError = false
    /// Requests in flight, in order (transaction mode with statement mapping).
    private var slots = SlotQueue()
    /// Shared statements prepared on this connection.
    private var preparedOnServer = ServerStatements()
    private var internalQueries: [String] = []
    private var internalError: ErrorResponse?
    private var internalCompletion: ((ErrorResponse?) -> Void)?
    private var interest = ReadinessInterest()
    private var connectStartedAt: UInt64 = 0

    init(pool: Pool, runtime: ProxyRuntime, poolID: ServerID) {
        self.pool = pool
        self.runtime = runtime
        self.poolID = poolID
        self.id = runtime.nextID()
        self.createdAt = runtime.loop.now
        self.idleSince = runtime.loop.now
    }

    var isLoggingIn: Bool {
        switch state { case .connecting, .negotiatingTLS, .tlsHandshake, .loggingIn: return true; default: return false }
    }
    var isLinked: Bool {
        switch state { case .linked, .internalQuery: return client != nil; default: return false }
    }
    /// Running `server_check_query` before being handed out.
    private(set) var isTesting = false

    var stateName: String {
        switch state {
        case .connecting, .negotiatingTLS, .tlsHandshake, .loggingIn: return "login"
        case .idle: return "idle"
        case .linked: return "active"
        case .internalQuery: return client != nil ? "active" : isTesting ? "tested" : "used"
        case .closed: return "closed"
        }
    }

    // MARK: connect and login

    func connect() {
        let url = pool.settings.url
        connectStartedAt = MonotonicClock.microseconds()
        connector = Connector.connect(host: url.host, port: url.port, timeout: pool.settings.serverConnectTimeout,
                                      loop: runtime.loop) { [self] result in
            // Strong: teardown() cancels the connector, which drops this closure.
            self.connector = nil
            switch result {
            case .success(let fd): self.connected(fd: fd)
            case .failure(let error):
                self.state = .closed
                self.pool.serverLoginFailed(self, failure: ServerLoginFailure(
                    code: SQLState.connectionFailure, message: "\(error)", retryable: true))
            }
        }
    }

    private func connected(fd: Int32) {
        let socket = TCPSocket(fd: fd)
        self.socket = socket
        runtime.applyKeepalive(socket)
        do { try runtime.loop.register(fd, handler: self, read: true, write: false) } catch {
            socket.close()
            state = .closed
            pool.serverLoginFailed(self, failure: ServerLoginFailure(code: SQLState.connectionFailure,
                                                                     message: "\(error)", retryable: true))
            return
        }
        switch pool.settings.url.sslMode {
        case .disable:
            sendStartup()
        case .allow where !pool.allowNeedsTLS:
            sendStartup()
        default:
            if let error = pool.upstreamTLSError {
                failLogin(ServerLoginFailure(code: SQLState.connectionFailure,
                                             message: "TLS settings of database \"\(pool.settings.database)\" are unusable: \(error)",
                                             retryable: false))
                return
            }
            state = .negotiatingTLS
            send(StartupPacket.sslRequest.encoded)
        }
    }

    private func sendStartup() {
        let url = pool.settings.url
        let hash = socket?.tlsSession?.serverCertificateHashForChannelBinding
        login = ServerLoginMachine(user: url.user, password: url.password,
                                   channelBinding: ChannelBindingPolicy(url), serverCertificateHash: hash)
        state = .loggingIn
        send(ServerLoginMachine.startupPacket(user: url.user, database: url.database, options: url.options))
    }

    /// The server answered our SSLRequest.
    private func tlsAnswerReceived() {
        guard input.readableBytes >= 1 else { return }
        let answer = input.byte(at: 0)
        let mode = pool.settings.url.sslMode
        if answer == UInt8(ascii: "S") {
            guard input.readableBytes == 1 else {
                failLogin(ServerLoginFailure(code: SQLState.protocolViolation,
                                             message: "received unencrypted data after SSL response", retryable: false))
                return
            }
            input.clear()
            guard let context = pool.upstreamTLSContext,
                  let session = try? TLSSession(context: context, role: .client(serverName: pool.settings.url.host)) else {
                failLogin(ServerLoginFailure(code: SQLState.connectionFailure, message: "could not create a TLS session",
                                             retryable: false))
                return
            }
            socket?.startTLS(session)
            state = .tlsHandshake
            driveHandshake()
        } else if answer == UInt8(ascii: "N") {
            input.clear()
            if mode == .prefer || mode == .allow {
                sendStartup()
            } else {
                failLogin(ServerLoginFailure(code: SQLState.connectionFailure,
                                             message: "server does not support SSL, but SSL was required (sslmode=\(mode.rawValue))",
                                             retryable: false))
            }
        } else {
            failLogin(ServerLoginFailure(code: SQLState.protocolViolation,
                                         message: "received invalid response to SSL negotiation: \(answer)", retryable: false))
        }
    }

    private func driveHandshake() {
        guard let socket else { return }
        switch socket.continueHandshake() {
        case .needsIO:
            updateInterest()
        case .failed(let error):
            runtime.countTLSHandshake(side: "server", version: nil, failure: "handshake_failed")
            let url = pool.settings.url
            failLogin(ServerLoginFailure(code: SQLState.connectionFailure,
                                         message: "TLS handshake with \(url.host):\(url.port) failed (sslmode=\(url.sslMode.rawValue)): \(error)",
                                         retryable: false))
        case .complete:
            runtime.countTLSHandshake(side: "server", version: socket.tlsSession?.negotiatedProtocol, failure: nil)
            sendStartup()
            if socket.hasBufferedPlaintext { readAvailable() }
        }
    }

    private func failLogin(_ failure: ServerLoginFailure) {
        teardown()
        pool.serverLoginFailed(self, failure: failure)
    }

    // MARK: I/O

    public func ioReady(readable: Bool, writable: Bool, hangup: Bool) {
        guard let socket, !socket.isClosed else { return }
        if case .tlsHandshake = state { driveHandshake(); return }
        if writable {
            guard socket.flushPending() else { close(reason: "write_error"); return }
            if !socket.hasPendingWrites { updateInterest(); client?.serverDrained() }
        }
        if readable { readAvailable() }
    }

    private func readAvailable() {
        repeat {
            guard let socket, !socket.isClosed else { return }
            switch socket.read(into: input, chunk: 16384) {
            case .wouldBlock: return
            case .endOfFile: close(reason: "upstream_closed"); return
            case .failed: close(reason: "upstream_error"); return
            case .bytes: break
            }
            switch state {
            case .negotiatingTLS: tlsAnswerReceived()
            case .loggingIn: processLogin()
            case .idle: processUnsolicited()
            case .linked: relayToClient()
            case .internalQuery: processInternal()
            case .connecting, .tlsHandshake, .closed: input.clear()
            }
        } while socket?.hasBufferedPlaintext == true && interest.read && !isClosed
    }

    private var isClosed: Bool { if case .closed = state { return true }; return false }
    var tlsDescription: String? { socket?.tlsSession?.negotiatedProtocol }

    func updateInterest() {
        guard let socket, !socket.isClosed else { return }
        var wantRead = true
        if case .linked = state, let client, client.socket.hasPendingWrites { wantRead = false }
        if interest.update(read: wantRead, write: socket.hasPendingWrites, socket: socket, loop: runtime.loop) {
            runtime.loop.execute { [self] in
                guard interest.read, !isClosed else { return }
                readAvailable()
            }
        }
    }

    /// Writes bytes to the server (buffering after EAGAIN); false if the server failed.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        guard let socket else { return false }
        if !socket.write(bytes) { close(reason: "write_error"); return false }
        if socket.hasPendingWrites { updateInterest() }
        return true
    }

    func send(_ pointer: UnsafeRawPointer, count: Int) -> Bool {
        guard let socket else { return false }
        if !socket.write(pointer, count: count) { close(reason: "write_error"); return false }
        if socket.hasPendingWrites { updateInterest() }
        return true
    }

    var hasPendingWrites: Bool { socket?.hasPendingWrites ?? false }

    /// The client's socket drained: read from the server again.
    func clientDrained() { updateInterest() }

    // MARK: whole-message processing (login, idle, internal)

    /// Calls `body` for each whole message in `input`; stops early when it returns false.
    private func forEachMessage(_ body: (UInt8, ArraySlice<UInt8>) -> Bool) {
        let scanner = FrameScanner(maxMessageSize: runtime.config.maxPacketSize)
        while true {
            switch input.nextWholeMessage(scanner) {
            case .incomplete: return
            case .invalid: close(reason: "protocol_violation"); return
            case .message(let type, let bodyBytes): if !body(type, bodyBytes[...]) { return }
            }
        }
    }

    private func processLogin() {
        forEachMessage { type, body in
            guard case .loggingIn = state, let action = login?.messageReceived(type: type, body: body) else { return false }
            switch action {
            case .none: return true
            case .send(let bytes): send(bytes); return true
            case .fail(let failure): failLogin(failure); return false  // teardown drops `login`
            case .ready(let parameters, let key):
                login = nil
                for (name, value) in parameters { self.parameters.reported(name: name, value: value) }
                backendKey = key
                state = .idle
                let micros = MonotonicClock.microseconds() - connectStartedAt
                runtime.logger.info("server connected", metadata: [
                    "database": "\(pool.settings.database)", "server": "\(id)",
                    "backend_pid": "\(key?.processID ?? 0)", "connect_ms": "\(micros / 1000)"])
                pool.serverReady(self, parameters: parameters, connectMicroseconds: micros)
                return false
            }
        }
    }

    /// An idle server sent something: a FATAL before closing (idle timeout, admin shutdown), a notice, or a parameter change.
    private func processUnsolicited() {
        forEachMessage { type, body in
            switch type {
            case ErrorResponse.typeCode:
                let error = try? ErrorResponse.decode(body: body)
                close(reason: "upstream_closed:\(error?.code ?? "?")")
                return false
            case ParameterStatus.typeCode:
                if let status = try? ParameterStatus.decode(body: body) { parameters.reported(name: status.name, value: status.value) }
                return true
            case NoticeResponse.typeCode, NotificationResponse.typeCode:
                return true
            default:
                close(reason: "protocol_violation")
                return false
            }
        }
    }

    /// Runs the health check; `completion(true)` when it answered without error.
    func runCheck(_ query: String, completion: @escaping (Bool) -> Void) {
        isTesting = true
        runInternal([query]) { [self] error in
            self.isTesting = false
            completion(error == nil)
        }
    }

    /// Runs `queries` one after another as simple queries, absorbing their replies.
    func runInternal(_ queries: [String], completion: @escaping (ErrorResponse?) -> Void) {
        internalQueries = queries
        internalError = nil
        internalCompletion = completion
        state = .internalQuery
        updateInterest()
        sendNextInternal()
    }

    private func sendNextInternal() {
        let sql = internalQueries.removeFirst()
        send(Query(sql).encoded)
    }

    private func processInternal() {
        forEachMessage { type, body in
            switch type {
            case ErrorResponse.typeCode:
                if internalError == nil { internalError = try? ErrorResponse.decode(body: body) }
            case ParameterStatus.typeCode:
                if let status = try? ParameterStatus.decode(body: body) { parameters.reported(name: status.name, value: status.value) }
            case ReadyForQuery.typeCode:
                transactionStatus = (try? ReadyForQuery.decode(body: body))?.status ?? .idle
                if internalError == nil && !internalQueries.isEmpty { sendNextInternal(); return true }
                let completion = internalCompletion
                internalCompletion = nil
                internalQueries = []
                completion?(internalError)
                return false
            default:
                break
            }
            return true
        }
        // The completion may have handed us to a client whose bytes are already waiting.
        if case .linked = state, input.readableBytes > 0 { relayToClient() }
    }

    // MARK: linking

    /// The pool gave this server to `client`: align session parameters, then relay.
    func link(to client: ClientConnection) {
        self.client = client
        linkedSince = runtime.loop.now
        pendingReadyForQuery = 0
        passthrough = 0
        slots.removeAll()
        skippingUntilSync = false
        if let alignment = parameters.alignmentIfNeeded(to: client.wanted) {
            runInternal([alignment.sql]) { [self, client] error in
                if let error {
                    self.client = nil
                    client.closeWithError(ErrorResponse(severity: .fatal, code: error.code ?? SQLState.invalidParameterValue,
                                                        message: error.message ?? "could not apply session parameters"),
                                          reason: "bad_parameter")
                    self.pool.release(self)
                    return
                }
                self.parameters.aligned(set: alignment.set, reset: alignment.reset, replay: alignment.replay)
                self.state = .linked
                self.updateInterest()
                client.serverReadyForRelay()
            }
        } else {
            state = .linked
            updateInterest()
            client.serverReadyForRelay()
        }
    }

    /// Back to the pool after a finished transaction or a cleaned-up session.
    func becameIdle(now: UInt64) {
        client = nil
        slots.removeAll()
        state = .idle
        idleSince = now
        input.clear()
        // Servers are few: keep the 16 KiB a read reserves (shrinking to less reallocated on every
        // transaction), give back only what a large result grew.
        if input.capacity > 65536 { input.shrink(to: 16384) }
        updateInterest()
    }

    /// The client left. Reuse the server if it can be made clean, else close it.
    func clientLeft(clientMidMessage: Bool) {
        client = nil
        guard case .linked = state, pendingReadyForQuery == 0, passthrough == 0, !clientMidMessage,
              input.readableBytes == 0, slots.isEmpty else {
            // The backend may be busy for a long time (pg_sleep, a big sort) and only notices a
            // closed socket when it next writes: cancel it so it stops and rolls back now.
            cancelBackend()
            close(reason: "client_close_mid_query")
            return
        }
        var cleanup: [String] = []
        if transactionStatus != .idle { cleanup.append("ROLLBACK") }
        if pool.settings.mode == .session, !pool.settings.serverResetQuery.isEmpty {
            cleanup.append(pool.settings.serverResetQuery)
        }
        if cleanup.isEmpty { pool.release(self); return }
        runInternal(cleanup) { [self] error in
            if error != nil { self.close(reason: "reset_failed"); return }
            if self.pool.settings.mode == .session { self.parameters.discarded(); self.preparedOnServer.removeAll() }
            self.pool.release(self)
        }
    }

    /// The linked client forwarded a Query, Sync or FunctionCall: one more ReadyForQuery is owed.
    @inline(__always) func requestForwarded(now: UInt64) {
        if pendingReadyForQuery == 0 {
            queryStartedAt = now
            queryTimeoutFired = false
        }
        pendingReadyForQuery += 1
    }

    /// query_timeout ran out for the running request: cancels it on the backend, once.
    /// Returns whether a cancel was sent.
    func queryTimedOut() -> Bool {
        guard !queryTimeoutFired, pendingReadyForQuery > 0 else { return false }
        queryTimeoutFired = true
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

    // MARK: prepared statements

    /// Transaction mode maps client statement names to shared server-side ones.
    var tracksStatements: Bool {
        pool.settings.mode == .transaction && runtime.config.maxPreparedStatements > 0
    }

    /// After an ErrorResponse, the server ignores everything up to the next Sync: requests sent
    /// in that stretch get no reply and leave no statement behind.
    private var skippingUntilSync = false

    /// Records a request in flight; a synthetic answer at the head is sent at once unless the
    /// caller sends it later with `emitPendingSynthetics` (the client relay does, after consuming its input).
    func pushSlot(_ slot: ResponseSlot, emitNow: Bool = true) {
        if skippingUntilSync {
            if slot == .sync || slot == .query { skippingUntilSync = false } else { return }
        }
        slots.append(slot)
        if emitNow && slot.isSynthetic && slots.first == slot { emitSynthetics() }
    }

    /// Sends synthetic answers now at the head of the queue.
    func emitPendingSynthetics() {
        if slots.first?.isSynthetic == true { emitSynthetics() }
    }

    /// The client sent Parse for `serverName`: prepare it unless this server already has it.
    func prepare(_ serverName: String, key: StatementKey, forClientParse clientName: String) {
        if skippingUntilSync {
            client?.statementParseFailed(clientName: clientName)  // the server skips it: no statement
            return
        }
        if preparedOnServer.contains(serverName) {
            preparedOnServer.touch(serverName)
            pushSlot(.syntheticParseComplete)
            return
        }
        evictIfFull(keeping: serverName)
        preparedOnServer.touch(serverName)
        pool.countStatementParse()
        pushSlot(.parse(serverName: serverName, clientName: clientName))
        send(Parse(statementName: serverName, query: key.query, parameterTypeOIDs: key.parameterTypes).encoded)
    }

    /// A Bind or Describe needs `serverName` here: prepare it first, hiding the reply from the client.
    func ensurePrepared(_ serverName: String, key: StatementKey) {
        if skippingUntilSync { return }
        if preparedOnServer.contains(serverName) { preparedOnServer.touch(serverName); return }
        evictIfFull(keeping: serverName)
        preparedOnServer.touch(serverName)
        pool.countStatementParse()
        pushSlot(.hiddenParse(serverName: serverName))
        send(Parse(statementName: serverName, query: key.query, parameterTypeOIDs: key.parameterTypes).encoded)
    }

    private func evictIfFull(keeping name: String) {
        guard !skippingUntilSync, preparedOnServer.count >= runtime.config.maxPreparedStatements,
              let victim = preparedOnServer.leastRecentlyUsed(keeping: name) else { return }
        preparedOnServer.remove(victim)
        pushSlot(.hiddenClose)
        send(Close(kind: .statement, name: victim).encoded)
    }

    /// Sends the answers Sluice gives itself while they are at the head of the queue.
    private func emitSynthetics() {
        guard let client else { return }
        while let head = slots.first, head.isSynthetic {
            slots.removeFirst()
            var bytes: [UInt8] = []
            switch head {
            case .syntheticParseComplete: ParseComplete().encode(into: &bytes)
            case .syntheticCloseComplete: CloseComplete().encode(into: &bytes)
            default:
                CommandComplete(tag: "DEALLOCATE").encode(into: &bytes)
                ReadyForQuery(status: transactionStatus).encode(into: &bytes)
            }
            guard bytes.withUnsafeBytes({ client.sendToClient($0.baseAddress!, count: $0.count) }) else { return }
            if head == .syntheticDeallocate && slots.isEmpty && pendingReadyForQuery == 0 && transactionStatus == .idle {
                client.transactionIdle()
                if client.canReleaseServer { client.transactionFinished(); return }
            }
        }
    }

    /// An ErrorResponse answered the head request: the server now skips to the next Sync.
    private func requestFailed() {
        guard let head = slots.first else { return }
        if head == .query { return }
        while let slot = slots.first, slot != .sync, slot != .query {
            slots.removeFirst()
            switch slot {
            case .parse(let serverName?, let clientName?):
                preparedOnServer.remove(serverName)
                client?.statementParseFailed(clientName: clientName)
            case .hiddenParse(let serverName):
                preparedOnServer.remove(serverName)
            default:
                break
            }
        }
        // No Sync sent yet: whatever the client sends before it is skipped by the server too.
        if slots.isEmpty { skippingUntilSync = true }
    }

    // MARK: relay server → client

    private func relayToClient() {
        guard let client else { input.clear(); return }
        let available = input.readableBytes
        var position = input.skipPassthrough(&passthrough, available: available)
        var forwardFrom = 0
        var transactionDone = false
        var fatalError: ErrorResponse?
        let tracking = !slots.isEmpty
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
            switch type {
            case ReadyForQuery.typeCode:
                guard available - position >= total, length == 5 else { break scan }
                transactionStatus = TransactionStatus(rawValue: input.byte(at: position + 5)) ?? .idle
                position += total
                if tracking { popSlot(finishedBy: type) }
                if pendingReadyForQuery > 0 { pendingReadyForQuery -= 1 }
                if queryStartedAt > 0 { pool.countQueryTime(microseconds: (runtime.loop.now &- queryStartedAt) * 1000) }
                if pendingReadyForQuery == 0 { queryStartedAt = 0 } else { queryStartedAt = runtime.loop.now }
                pool.countQuery()
                if let statement = client.setStatementCompleted(applied: transactionStatus == .idle && !sawError) {
                    parameters.clientRan(statement)
                    if statement == .resetAll { preparedOnServer.removeAll() }
                }
                sawError = false
                if slots.first?.isSynthetic == true {
                    guard flush() else { return }
                    emitSynthetics()
                    if self.client == nil { return }  // a synthetic ReadyForQuery ended the transaction
                }
                if pendingReadyForQuery == 0 && transactionStatus == .idle && slots.isEmpty {
                    client.transactionIdle()
                    if client.canReleaseServer {
                        transactionDone = true
                        break scan
                    }
                }
            case ErrorResponse.typeCode where total <= 65536:
                guard available - position >= total else { break scan }
                sawError = true
                let error = try? ErrorResponse.decode(body: input.bytes(at: position + 5, count: length - 4)[...])
                if error?.severity == "FATAL" || error?.severity == "PANIC" {
                    // The backend is going away (terminated, shut down, timed out). The client is not
                    // told this FATAL: Sluice answers for the lost server (see ClientConnection.serverLost).
                    fatalError = error
                    break scan
                }
                position += total
                if tracking { requestFailed() }
            case ErrorResponse.typeCode:
                sawError = true
                let take = min(total, available - position)
                position += take
                passthrough = total - take
                if tracking { requestFailed() }
            case ParameterStatus.typeCode where total <= 16384:
                guard available - position >= total else { break scan }
                if let status = try? ParameterStatus.decode(body: input.bytes(at: position + 5, count: length - 4)[...]) {
                    parameters.reported(name: status.name, value: status.value)
                    parameters.setBySluice.insert(status.name.lowercased())
                    client.parameterReported(name: status.name, value: status.value)
                }
                position += total
            case CommandComplete.typeCode where (length == 19 || length == 16) && tracking:
                // DEALLOCATE ALL / DISCARD ALL ran on the server: its statements are gone.
                guard available - position >= total else { break scan }
                let tag = String(decoding: input.bytes(at: position + 5, count: length - 5), as: UTF8.self)
                if tag == "DEALLOCATE ALL" || tag == "DISCARD ALL" {
                    preparedOnServer.removeAll()
                    client.allStatementsDeallocated()
                }
                position += total
                popSlot(finishedBy: type)
                if slots.first?.isSynthetic == true {
                    guard flush() else { return }
                    emitSynthetics()
                }
            case ParseComplete.typeCode, CloseComplete.typeCode:
                // Must stay the case just above `default:` (its `fallthrough` goes there).
                guard tracking, let head = slots.first else { fallthrough }
                let hidden: Bool
                switch head {
                case .hiddenParse, .hiddenClose: hidden = true
                default: hidden = false
                }
                if hidden {
                    // The reply to a request Sluice added: not the client's.
                    guard flush() else { return }
                    position += total
                    forwardFrom = position
                } else {
                    position += total
                }
                slots.removeFirst()
                if slots.first?.isSynthetic == true {
                    guard flush() else { return }
                    emitSynthetics()
                }
            default:
                let take = min(total, available - position)
                position += take
                passthrough = total - take
                if tracking && take == total && slots.first?.isFinished(by: type) == true {
                    slots.removeFirst()
                    if slots.first?.isSynthetic == true {
                        guard flush() else { return }
                        emitSynthetics()
                    }
                } else if tracking && take < total && slots.first?.isFinished(by: type) == true {
                    // The rest streams through; the slot is done once its header has passed.
                    slots.removeFirst()
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
        if let fatal = fatalError {
            input.clear()
            close(reason: "upstream_closed:\(fatal.code ?? "?")")
            return
        }
        if transactionDone {
            if input.readableBytes > 0 { input.clear() }  // nothing may follow a final ReadyForQuery
            client.transactionFinished()
        } else {
            input.compact()
            updateInterest()
        }
    }

    /// Pops the head slot when `type` is its final reply.
    private func popSlot(finishedBy type: UInt8) {
        if slots.first?.isFinished(by: type) == true { slots.removeFirst() }
    }

    // MARK: closing

    private func teardown() {
        connector?.cancel()
        connector = nil
        if let socket, !socket.isClosed {
            runtime.loop.deregister(socket.fd)
            socket.close()
        }
        login = nil
        state = .closed
    }

    /// Closes the connection; a linked client learns that its server is gone.
    func close(reason: String) {
        if case .closed = state { return }
        let wasLoggingIn = isLoggingIn
        teardown()
        runtime.logger.info("server closed", metadata: [
            "database": "\(pool.settings.database)", "server": "\(id)",
            "backend_pid": "\(backendKey?.processID ?? 0)", "reason": "\(reason)"])
        runtime.countServerClose(reason: reason)
        if wasLoggingIn {
            pool.serverLoginFailed(self, failure: ServerLoginFailure(code: SQLState.connectionFailure,
                                                                     message: "server closed the connection during login (\(reason))",
                                                                     retryable: true))
        } else {
            pool.serverClosed(self)
        }
        if let client {
            self.client = nil
            client.serverLost(reason: reason, midMessage: passthrough > 0, pendingReadyForQuery: pendingReadyForQuery,
                              inTransaction: transactionStatus != .idle)
        }
        internalCompletion = nil  // whoever waited on it is the client, told above, or the pool
    }
}
