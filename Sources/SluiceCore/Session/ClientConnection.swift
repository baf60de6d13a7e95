// ClientConnection: one application connection: startup, authentication, queueing, relay to a server.
import Logging
import PostgresWire
import SluiceIO

/// A connection from an application to Sluice. Loop-confined.
public final class ClientConnection: IOHandler {
    enum Phase: String {
        case startup
        /// TLS handshake after SSLRequest 'S' or a direct-TLS ClientHello.
        case tlsHandshake = "tls_handshake"
        case login
        /// Authenticated; waiting for the pool to learn the server's parameters.
        case awaitingParameters = "waiting_login"
        case idle
        /// Has a message to send and waits in the pool's queue.
        case waiting
        case linked = "active"
        /// Logged in to the admin console database: Sluice answers queries itself.
        case admin
        case closed
    }

    unowned(unsafe) let runtime: ProxyRuntime  // the runtime outlives every connection and pool
    let socket: TCPSocket
    public let peer: SocketAddress
    public let id: UInt64
    /// Small while idle (most clients of a pooler are); grows for large messages and shrinks back
    /// when the client goes idle again.
    let input = ByteBuffer(capacity: 256)
    private(set) var phase: Phase = .startup
    private var login: ClientLoginMachine
    private(set) var pool: Pool?
    private(set) var server: ServerConnection?
    /// The settings this client expects on whichever server it uses.
    private(set) var wanted = SessionParameters()
    public private(set) var user = ""
    public private(set) var database = ""
    public private(set) var applicationName = ""
    public private(set) var processID: Int32 = 0
    public private(set) var secretKey: UInt32 = 0
    public let connectedAt: UInt64
    /// Loop time this client started waiting in the pool's queue.
    private(set) var waitStartedAt: UInt64 = 0
    private var loginTimer: Timer?
    private var waitTimer: Timer?
    /// Extended-protocol messages sent since the last Sync: the server must stay.
    private var unsynced = false
    /// Bytes of a client message still to forward unparsed.
    private var passthrough = 0
    private var interest = ReadinessInterest()
    /// Loop time (ms) the current transaction started (first message after ReadyForQuery 'I'); nil when idle.
    private(set) var busySince: UInt64?
    /// Loop time (ms) of the last message forwarded.
    private(set) var requestAt: UInt64 = 0
    /// Loop time (ms) the current server was linked.
    private(set) var linkedAt: UInt64 = 0
    /// Already reported as a leak suspect in this transaction.
    private(set) var leakReported = false
    /// First 200 characters of the last statement (only with `log_leak_queries`).
    private(set) var lastQuery: String?
    private(set) var adminPrivilege: AdminPrivilege?
    /// Counted in the per-database and per-user client limits.
    private(set) var admitted = false
    /// A failed login waiting out `auth_failure_delay`.
    private var authFailurePending = false
    /// A lone SET/RESET query in flight; applied to `wanted` if it succeeds outside a transaction.
    private var pendingSetStatement: SetStatement?
    /// Loop time of the last bytes read from the client (idle timeouts).
    private(set) var lastReadAt: UInt64 = 0
    /// Session mode: the client may have state Sluice cannot rebuild (temp tables, LISTEN,
    /// named prepared statements, advisory locks, cursors WITH HOLD, SET ROLE).
    private var sessionStateUnknown = false
    /// The server died while this client was idle inside a transaction: its next request
    /// gets this error (and ReadyForQuery) instead of reaching a server.
    private var failNextRequest: ErrorResponse?
    private var adminSkipToSync = false
    /// A console query waits for the other workers' snapshots; later input waits for its reply.
    private var adminBusy = false

    init(fd: Int32, peer: SocketAddress, runtime: ProxyRuntime) {
        self.runtime = runtime
        self.lastReadAt = runtime.loop.now
        self.socket = TCPSocket(fd: fd)
        self.peer = peer
        self.id = runtime.nextID()
        self.connectedAt = runtime.loop.now
        self.login = ClientLoginMachine(method: runtime.clientAuthentication, tlsAvailable: runtime.clientTLSAvailable,
                                        randomBytes: secureRandomBytes)
    }

    var phaseName: String { phase.rawValue }

    /// Registers with the loop and starts the login clock.
    func start() throws {
        try runtime.loop.register(socket.fd, handler: self, read: true, write: false)
        let timeout = runtime.config.clientLoginTimeout
        if timeout > 0 {
            loginTimer = runtime.loop.timers.schedule(now: runtime.loop.now, afterMilliseconds: UInt64(timeout * 1000)) {
                [self] in
                self.closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                                   message: "client_login_timeout: login not completed within \(formatSeconds(timeout))"),
                                     reason: "login_timeout")
            }
        }
    }

    // MARK: I/O

    public func ioReady(readable: Bool, writable: Bool, hangup: Bool) {
        if phase == .closed { return }
        if phase == .tlsHandshake { driveHandshake(); return }
        if writable {
            guard socket.flushPending() else { close(reason: "write_error"); return }
            if !socket.hasPendingWrites { updateInterest(); server?.clientDrained() }
        }
        if readable && phase != .closed { readAvailable() }
    }

    private func readAvailable() {
        repeat {
            switch socket.read(into: input, chunk: passthrough > 0 ? 65536 : phase == .linked ? 4096 : 512) {
            case .wouldBlock: return
            case .endOfFile:
                // A connection closed before sending a byte is a port probe (a load balancer's TCP
                // health check, a script waiting for the port): counted, logged at debug only.
                if phase == .startup && input.isEmpty { close(reason: "probe", quiet: true); return }
                close(reason: "client_close"); return
            case .failed: close(reason: socket.isTLS ? "tls_error" : "client_error"); return
            case .bytes: lastReadAt = runtime.loop.now
            }
            process()
            // TLS may hold decrypted bytes that epoll will not announce again.
        } while socket.hasBufferedPlaintext && interest.read && phase != .closed && phase != .tlsHandshake
    }

    // MARK: TLS

    /// Whether the connection was opened with a direct TLS ClientHello (PostgreSQL 17 `sslnegotiation=direct`).
    private var directTLS = false

    private func startTLS(direct: Bool) {
        guard let context = runtime.clientTLSContext, let session = try? TLSSession(context: context, role: .server) else {
            close(reason: "tls_unavailable")
            return
        }
        directTLS = direct
        if direct {
            socket.startTLS(session, alreadyReceived: UnsafeRawBufferPointer(start: input.readPointer, count: input.readableBytes))
            input.clear()
        } else {
            socket.startTLS(session)
        }
        phase = .tlsHandshake
        driveHandshake()
    }

    private func driveHandshake() {
        switch socket.continueHandshake() {
        case .needsIO:
            _ = interest.update(read: true, write: socket.hasPendingWrites, socket: socket, loop: runtime.loop)
        case .failed(let error):
            runtime.countTLSHandshake(side: "client", version: nil, failure: "handshake_failed")
            runtime.logger.info("client TLS handshake failed", metadata: ["client": "\(peer)", "error": "\(error)"])
            close(reason: "tls_handshake_failed", quiet: true)
        case .complete:
            let session = socket.tlsSession
            if directTLS && session?.alpn != "postgresql" {
                runtime.countTLSHandshake(side: "client", version: nil, failure: "no_alpn")
                runtime.logger.info("direct TLS connection without ALPN postgresql refused", metadata: ["client": "\(peer)"])
                close(reason: "tls_no_alpn", quiet: true)
                return
            }
            runtime.countTLSHandshake(side: "client", version: session?.negotiatedProtocol, failure: nil)
            login.isTLS = true
            phase = .startup
            updateInterest()
            if socket.hasBufferedPlaintext { readAvailable() }
        }
    }

    /// "TLSv1.3" when encrypted.
    var tlsDescription: String? { socket.tlsSession?.negotiatedProtocol }

    private func process() {
        switch phase {
        case .startup: processStartup()
        case .login: processLogin()
        case .idle: processIdle()
        case .linked: relayToServer()
        case .admin: processAdmin()
        case .awaitingParameters, .waiting, .tlsHandshake, .closed: break
        }
    }

    func updateInterest() {
        guard phase != .closed else { return }
        let wantRead: Bool
        switch phase {
        case .awaitingParameters, .waiting: wantRead = false
        case _ where authFailurePending: wantRead = false
        case .linked: wantRead = !(server?.hasPendingWrites ?? true) && server?.isLinked == true
        default: wantRead = true
        }
        if interest.update(read: wantRead, write: socket.hasPendingWrites, socket: socket, loop: runtime.loop) {
            runtime.loop.execute { [self] in
                guard interest.read, phase != .closed else { return }
                readAvailable()
            }
        }
    }

    /// Writes to the client; false if the client is gone.
    func sendToClient(_ pointer: UnsafeRawPointer, count: Int) -> Bool {
        guard phase != .closed else { return false }
        if !socket.write(pointer, count: count) { close(reason: "write_error"); return false }
        if socket.hasPendingWrites { updateInterest(); server?.updateInterest() }
        return true
    }

    private func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { sendToClient($0.baseAddress!, count: $0.count) }
    }

    /// The server's socket drained: read from the client again.
    func serverDrained() { updateInterest() }

    // MARK: startup and login

    private func processStartup() {
        if !socket.isTLS && input.readableBytes >= 1 && input.byte(at: 0) == 0x16 {
            // A TLS ClientHello instead of a startup packet: direct TLS negotiation.
            if login.isTLS == false && runtime.clientTLSAvailable { startTLS(direct: true) } else { close(reason: "tls_unavailable") }
            return
        }
        while phase == .startup {
            let length: Int
            switch FrameScanner.startupFrame(UnsafeRawPointer(input.readPointer), count: input.readableBytes) {
            case .incomplete: return
            case .invalid:
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                             message: "invalid length of startup packet"), reason: "protocol_violation")
                return
            case .packet(let packetLength): length = packetLength
            }
            guard input.readableBytes >= length else { return }
            let body = input.bytes(at: 4, count: length - 4)
            input.consume(length)
            let packet: StartupPacket
            do { packet = try StartupPacket.decode(body: body[...]) } catch {
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                             message: "invalid startup packet layout: \(error)"), reason: "protocol_violation")
                return
            }
            perform(login.startupPacketReceived(packet) { [runtime] database, user in
                runtime.lookup(database: database, user: user)
            })
        }
    }

    private func processLogin() {
        let scanner = FrameScanner(maxMessageSize: Framing.maxAuthenticationMessageSize)
        while phase == .login {
            let type: UInt8, body: [UInt8]
            switch input.nextWholeMessage(scanner) {
            case .incomplete: return
            case .invalid(let length):
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                             message: "invalid message length \(length) during authentication"), reason: "protocol_violation")
                return
            case .message(let messageType, let messageBody): type = messageType; body = messageBody
            }
            if type == UInt8(ascii: "p") {
                perform(login.passwordMessageReceived(body: body[...]))
            } else if type == UInt8(ascii: "X") {
                close(reason: "client_close")
            } else {
                perform(login.unexpectedMessageReceived(type: type))
            }
        }
    }

    private func perform(_ action: ClientLoginMachine.Action) {
        switch action {
        case .refuseEncryption:
            send([UInt8(ascii: "N")])
        case .acceptTLS:
            guard input.readableBytes == 0 else {
                // Bytes sent before our answer could be injected plaintext (CVE-2021-23214): refuse.
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                             message: "received unencrypted data after SSL request"), reason: "protocol_violation")
                return
            }
            send([UInt8(ascii: "S")])
            startTLS(direct: false)
        case .forwardCancel(let pid, let key):
            runtime.forwardCancel(processID: pid, secretKey: key)
            close(reason: "cancel_request", quiet: true)
        case .sendErrorAndClose(let error, let reason):
            user = login.user
            database = login.database
            if reason == "auth_failed" {
                runtime.recordAuthFailure(host: peer.host)
                let delay = runtime.config.authFailureDelay
                if delay > 0 {
                    // Slow down password guessing without holding anything but this socket.
                    authFailurePending = true
                    updateInterest()
                    _ = runtime.loop.timers.schedule(now: runtime.loop.now, afterMilliseconds: UInt64(delay * 1000)) {
                        [self] in self.closeWithError(error, reason: reason)
                    }
                    return
                }
            }
            closeWithError(error, reason: reason)
        case .send(let bytes):
            if phase == .startup && !runtime.isAdminDatabase(login.database) {
                if let refusal = runtime.admit(database: login.database, user: login.user) {
                    user = login.user
                    database = login.database
                    closeWithError(refusal, reason: "limit")
                    return
                }
                admitted = true
                user = login.user
                database = login.database
            }
            phase = .login
            send(bytes)
        case .authenticated(let bytes):
            if runtime.config.clientTLSVerify == .verifyFull, socket.tlsSession?.peerCertificateCommonName != login.user {
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.invalidAuthorizationSpecification,
                                             message: "certificate authentication failed for user \"\(login.user)\": the client certificate's common name does not match"),
                               reason: "tls_cert_user_mismatch")
                return
            }
            send(bytes)
            user = login.user
            database = login.database
            applicationName = login.applicationName
            wanted = login.parameters
            if runtime.isAdminDatabase(database) {
                guard let privilege = runtime.adminPrivilege(database: database, user: user) else {
                    closeWithError(ErrorResponse(severity: .fatal, code: SQLState.insufficientPrivilege,
                                                 message: "user \"\(user)\" is not allowed to use the admin console (not in admin_users or stats_users)"),
                                   reason: "not_admin")
                    return
                }
                startAdminSession(privilege)
                return
            }
            guard let pool = runtime.pool(named: database) else {
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.invalidCatalogName,
                                             message: "database \"\(database)\" does not exist in sluice config"),
                               reason: "unknown_database")
                return
            }
            self.pool = pool
            (processID, secretKey) = runtime.registerCancelKey(for: self)
            phase = .awaitingParameters
            updateInterest()
            pool.requestParameters(for: self)
        }
    }

    /// The pool knows its server parameters: finish the login with ParameterStatus, BackendKeyData, ReadyForQuery.
    func parametersAvailable() {
        guard phase == .awaitingParameters, let pool, let serverParameters = pool.serverParameters else { return }
        waitTimer?.cancel()
        loginTimer?.cancel()
        var writer = MessageWriter()
        var told = Set<String>()
        for (name, value) in serverParameters {
            let key = name.lowercased()
            told.insert(key)
            writer.write(ParameterStatus(name: name, value: wanted[key] ?? value))
        }
        writer.write(BackendKeyData(processID: processID, secretKey: secretKey))
        writer.write(ReadyForQuery(status: .idle))
        phase = .idle
        send(writer.bytes)
        runtime.clientLoggedIn(self)
        updateInterest()
        if input.readableBytes > 0 { process() }
    }

    // MARK: pooling

    /// The pool queued this client (for a server, or for the pool's parameters at login): stop
    /// reading it until it is served, and give up after `seconds` (0: never).
    func startWaitTimer(seconds: Double) {
        waitTimer?.cancel()
        if phase == .idle {
            phase = .waiting
            waitStartedAt = runtime.loop.now
        }
        updateInterest()
        guard seconds > 0 else { return }
        waitTimer = runtime.loop.timers.schedule(now: runtime.loop.now, afterMilliseconds: UInt64(seconds * 1000)) {
            [self] in
            guard self.phase != .closed, let pool = self.pool else { return }
            pool.waitTimedOut(for: self)
        }
    }

    private func processIdle() {
        guard input.readableBytes >= 5 else { return }
        if input.byte(at: 0) == UInt8(ascii: "X") { close(reason: "client_close"); return }
        if failNextRequest != nil { answerFailedRequest(); return }
        while answerParseSyncLocally() {}
        guard phase == .idle, input.readableBytes >= 5 else { return }
        guard let pool else { return }
        // Usually a server is free and the relay starts at once, with no change of read interest
        // (each change is an epoll_ctl); only a client that must queue stops being read.
        pool.acquire(for: self)
    }

    /// The pool chose a server for this client; it aligns parameters, then calls `serverReadyForRelay`.
    func serverAssigned(_ server: ServerConnection) {
        waitTimer?.cancel()
        waitTimer = nil
        self.server = server
        linkedAt = runtime.loop.now
        phase = .linked
    }

    /// The server is ready: forward what the client has sent.
    func serverReadyForRelay() {
        guard phase == .linked else { return }
        updateInterest()
        relayToServer()
    }

    /// The server reached ReadyForQuery 'I' with nothing outstanding: the transaction is over.
    func transactionIdle() {
        guard let started = busySince, let pool else { return }
        let now = runtime.loop.now
        busySince = nil
        pool.transactionEnded(durationMilliseconds: now - started)
        if leakReported {
            leakReported = false
            runtime.logger.notice("leak suspect released its server", metadata: [
                "client": "\(peer)", "database": "\(database)", "user": "\(user)",
                "application_name": "\(applicationName)", "held_for_s": "\(Double(now - started) / 1000)"])
        }
    }

    /// Seconds the current transaction has held its server (nil when idle).
    /// The janitor reported this client as a leak suspect: not again in this hold.
    func becameLeakSuspect() { leakReported = true }

    /// The server finished the lone SET/RESET this client sent (if any): returns it when it took
    /// effect (`applied`: outside a transaction, no error), after applying it to `wanted`.
    @inline(__always) func setStatementCompleted(applied: Bool) -> SetStatement? {
        guard let statement = pendingSetStatement else { return nil }
        pendingSetStatement = nil
        guard applied else { return nil }
        wanted.apply(statement)
        return statement
    }

    func heldSeconds(now: UInt64) -> Double? {
        busySince.map { Double(now - $0) / 1000 }
    }

    /// True when the server may go back to the pool at the next ReadyForQuery 'I'.
    var canReleaseServer: Bool {
        pool?.settings.mode == .transaction && !unsynced && passthrough == 0
    }

    /// The server saw ReadyForQuery 'I' with nothing outstanding (transaction mode): give it back.
    func transactionFinished() {
        guard let server, let pool else { return }
        self.server = nil
        phase = .idle
        if input.isEmpty && input.capacity > 8192 { input.shrink(to: 256) }  // after a large message
        pool.serverHeld(milliseconds: runtime.loop.now - linkedAt)
        pool.release(server)
        updateInterest()
        if input.readableBytes > 0 { process() }
    }

    /// A ParameterStatus passed through: the client now wants that value wherever it goes.
    func parameterReported(name: String, value: String) {
        wanted[name] = value
    }

    // MARK: relay client → server

    private func relayToServer() {
        guard let server, server.isLinked else { return }
        let mapStatements = server.tracksStatements
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
            if busySince == nil && type != UInt8(ascii: "X") { busySince = runtime.loop.now }
            var slot: ResponseSlot?
            switch type {
            case UInt8(ascii: "X"):
                terminate = true
                break scan
            case UInt8(ascii: "Q"), UInt8(ascii: "S"), UInt8(ascii: "F"):
                if type == UInt8(ascii: "Q") && mapStatements {
                    guard available - position >= total else { break scan }
                    if let name = deallocatedStatementName(at: position, length: length) {
                        // Sluice keeps the shared server-side statement; only the client's name goes.
                        if position > forwardFrom && !server.send(input.readPointer + forwardFrom, count: position - forwardFrom) { return }
                        statements.forget(name)
                        position += total
                        forwardFrom = position
                        server.pushSlot(.syntheticDeallocate, emitNow: false)
                        continue
                    }
                }
                server.requestForwarded(now: runtime.loop.now)
                unsynced = false
                slot = type == UInt8(ascii: "S") ? .sync : .query
                if type == UInt8(ascii: "Q") && !sessionStateUnknown && pool?.settings.mode == .session {
                    noteSessionState(type: type, at: position, length: length)
                }
                if type == UInt8(ascii: "Q") {
                    if runtime.config.logLeakQueries { captureQuery(at: position, length: length) }
                    if server.transactionStatus == .idle { detectSetStatement(at: position, length: length) }
                }
            case UInt8(ascii: "P"), UInt8(ascii: "B"), UInt8(ascii: "D"), UInt8(ascii: "E"), UInt8(ascii: "C"):
                unsynced = true  // Flush ('H') starts nothing: a Flush after Sync must not pin the server
                if type == UInt8(ascii: "P") && !sessionStateUnknown && pool?.settings.mode == .session {
                    noteSessionState(type: type, at: position, length: length)
                }
                if type == UInt8(ascii: "P") && runtime.config.logLeakQueries {
                    captureQuery(at: position, length: length, skipName: true)
                }
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
            requestAt = runtime.loop.now
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

    // MARK: prepared statements (transaction mode)

    /// The client's named statements (client name → shared server-side statement).
    private var statements = StatementMapper()

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

    /// A lone `DEALLOCATE name` of a statement this client named, which Sluice answers itself
    /// (`DEALLOCATE ALL` goes to the server, which reports it with its command tag).
    private func deallocatedStatementName(at position: Int, length: Int) -> String? {
        guard length <= 1024 else { return nil }
        var offset = position + 5
        while offset < position + length && input.byte(at: offset) == UInt8(ascii: " ") { offset += 1 }
        guard startsWithWord(at: offset, end: position + length, "deallocate") else { return nil }
        let text = String(decoding: input.bytes(at: position + 5, count: length - 5), as: UTF8.self)
        if case .name(let name)? = Deallocate.parse(text), statements.knows(name) { return name }
        return nil
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
    private func answerParseSyncLocally() -> Bool {
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

    /// A client Parse failed on the server: the client has no such statement.
    func statementParseFailed(clientName: String) {
        statements.forget(clientName)
    }

    /// Notices a lone SET/RESET/DISCARD ALL so the setting can follow the client to other servers.
    private func detectSetStatement(at position: Int, length: Int) {
        guard length <= 4096, input.readableBytes - position >= length + 1 else { return }
        var offset = position + 5
        while offset < position + length + 1 && input.byte(at: offset) == UInt8(ascii: " ") { offset += 1 }
        // Only a query starting with SET, RESET or DISCARD is looked at further (cheap byte test first).
        guard startsWithWord(at: offset, end: position + length, "set") || startsWithWord(at: offset, end: position + length, "reset")
                || startsWithWord(at: offset, end: position + length, "discard") else { return }
        let bytes = input.bytes(at: position + 5, count: length - 5)
        pendingSetStatement = SetStatement.parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Whether the buffer holds `word` (ASCII, any case) at `offset`, followed by a space or the end.
    private func startsWithWord(at offset: Int, end: Int, _ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard offset + count < end else { return false }
        let pointer = word.utf8Start
        for i in 0..<count where input.byte(at: offset + i) | 0x20 != pointer[i] { return false }
        let next = input.byte(at: offset + count)
        return next == 0x20 || next == 0x09 || next == 0x0a || next == 0x0d || next == 0
    }

    /// Keeps the first 200 characters of a Query's text for leak reports.
    private func captureQuery(at position: Int, length: Int, skipName: Bool = false) {
        let available = min(length - 4, 800, input.readableBytes - position - 5)
        guard available > 0 else { return }
        var bytes = input.bytes(at: position + 5, count: available)[...]
        if skipName {
            // Parse: the statement name comes first.
            guard let end = bytes.firstIndex(of: 0) else { return }
            bytes = bytes[(end + 1)...]
        }
        let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        // One log line per event: control characters (a newline could forge a line) are escaped.
        var escaped = ""
        for scalar in text.prefix(200).unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            default: escaped.unicodeScalars.append(scalar.value < 0x20 ? "?" : scalar)
            }
        }
        lastQuery = escaped
    }

    // MARK: admin console

    private func startAdminSession(_ privilege: AdminPrivilege) {
        adminPrivilege = privilege
        loginTimer?.cancel()
        (processID, secretKey) = runtime.registerCancelKey(for: self)
        var writer = MessageWriter()
        for (name, value) in [("server_version", "15.0 (\(sluiceVersion))"), ("server_encoding", "UTF8"),
                              ("client_encoding", "UTF8"), ("DateStyle", "ISO"), ("TimeZone", "UTC"),
                              ("integer_datetimes", "on"), ("standard_conforming_strings", "on"),
                              ("application_name", applicationName)] {
            writer.write(ParameterStatus(name: name, value: value))
        }
        writer.write(BackendKeyData(processID: processID, secretKey: secretKey))
        writer.write(ReadyForQuery(status: .idle))
        phase = .admin
        send(writer.bytes)
        runtime.clientLoggedIn(self)
        updateInterest()
        if input.readableBytes > 0 { process() }
    }

    /// Admin console: answer simple queries; the extended protocol is refused until Sync.
    private func processAdmin() {
        let scanner = FrameScanner(maxMessageSize: runtime.config.maxPacketSize)
        while phase == .admin && !adminBusy {
            let type: UInt8, body: [UInt8]
            switch input.nextWholeMessage(scanner) {
            case .incomplete: return
            case .invalid(let length):
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                             message: "invalid message length \(length)"), reason: "protocol_violation")
                return
            case .message(let messageType, let messageBody): type = messageType; body = messageBody
            }
            requestAt = runtime.loop.now
            switch type {
            case UInt8(ascii: "X"):
                close(reason: "client_close")
                return
            case UInt8(ascii: "Q"):
                let text = (try? Query.decode(body: body[...]).query) ?? ""
                guard let console = runtime.adminConsole, let privilege = adminPrivilege else {
                    var bytes = ErrorResponse(severity: .error, code: SQLState.featureNotSupported,
                                              message: "the admin console is not available in this build").encoded
                    ReadyForQuery(status: .idle).encode(into: &bytes)
                    send(bytes)
                    continue
                }
                adminBusy = true
                // With one worker the snapshot comes at once; with more it is gathered from every
                // worker's loop first, and the rest of this client's input waits for the reply.
                runtime.withSnapshot { [self] snapshot in
                    guard self.phase == .admin else { return }
                    let reply = console.execute(query: text, privilege: privilege, snapshot: snapshot)
                    var bytes = reply.bytes
                    ReadyForQuery(status: .idle).encode(into: &bytes)
                    // The action first: when the operator sees "PAUSE", every worker has it queued
                    // ahead of anything a client sends afterwards.
                    if let action = reply.action { self.runtime.perform(action) }
                    guard self.phase == .admin else { return }  // KILL_CLIENT of this very session
                    self.send(bytes)
                    self.adminBusy = false
                    if self.phase == .admin && self.input.readableBytes > 0 { self.processAdmin() }
                }
            case UInt8(ascii: "S"):
                adminSkipToSync = false
                send(ReadyForQuery(status: .idle).encoded)
            default:
                if !adminSkipToSync {
                    adminSkipToSync = true
                    send(ErrorResponse(severity: .error, code: SQLState.featureNotSupported,
                                       message: "the admin console supports the simple query protocol only").encoded)
                }
            }
        }
    }

    // MARK: losing the server

    /// The server died under this client. Whatever can be hidden is: an idle client just gets a
    /// new server next time; a client waiting for results gets an ERROR for that request and stays;
    /// one idle inside a transaction gets the ERROR at its next request. Only a client whose
    /// stream was cut mid-message, or whose session state cannot be rebuilt, is closed.
    func serverLost(reason: String, midMessage: Bool, pendingReadyForQuery: Int, inTransaction: Bool) {
        server = nil
        let mode = pool?.settings.mode ?? .transaction
        let rebuildable = mode == .transaction || !sessionStateUnknown
        guard !midMessage, passthrough == 0, rebuildable else {
            closeWithError(ErrorResponse(severity: .fatal, code: SQLState.connectionFailure,
                                         message: "server connection of database \"\(database)\" was lost (\(reason))"),
                           reason: "server_lost")
            return
        }
        busySince = nil
        leakReported = false
        pendingSetStatement = nil
        phase = .idle
        let error = ErrorResponse(severity: .error, code: SQLState.connectionFailure,
                                  message: "server connection of database \"\(database)\" was lost (\(reason)); the transaction was rolled back",
                                  hint: "The statement was not retried. Run it again: a new server connection will be used.")
        if pendingReadyForQuery > 0 {
            var bytes = error.encoded
            for _ in 0..<pendingReadyForQuery { ReadyForQuery(status: .idle).encode(into: &bytes) }
            unsynced = false
            send(bytes)
        } else if inTransaction || unsynced {
            failNextRequest = error
        }
        runtime.logger.info("server lost under a client; client kept", metadata: [
            "client": "\(peer)", "database": "\(database)", "reason": "\(reason)",
            "pending": "\(pendingReadyForQuery)", "in_transaction": "\(inTransaction)"])
        updateInterest()
        if input.readableBytes > 0 { process() }
    }

    /// Answers the request after a lost transaction: drops messages up to the next Query or Sync,
    /// then sends the saved ERROR and ReadyForQuery 'I'.
    private func answerFailedRequest() {
        let scanner = FrameScanner(maxMessageSize: runtime.config.maxPacketSize)
        while let error = failNextRequest {
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
            if type == UInt8(ascii: "Q") || type == UInt8(ascii: "S") {
                failNextRequest = nil
                unsynced = false
                var bytes = error.encoded
                ReadyForQuery(status: .idle).encode(into: &bytes)
                send(bytes)
            }
        }
        if failNextRequest == nil && input.readableBytes > 0 { process() }
    }

    /// Session mode: notes statements that leave state Sluice cannot replay on another server.
    private func noteSessionState(type: UInt8, at position: Int, length: Int) {
        if type == UInt8(ascii: "P") {
            if input.readableBytes > position + 5 && input.byte(at: position + 5) != 0 { sessionStateUnknown = true }
            return
        }
        let count = min(length - 4, 512, input.readableBytes - position - 5)
        guard count > 0 else { return }
        let text = String(decoding: input.bytes(at: position + 5, count: count), as: UTF8.self).lowercased()
        for word in ["temp", "listen", "prepare", "advisory", "hold", "role", "authorization", "declare", "lock"]
        where text.contains(word) {
            sessionStateUnknown = true
            return
        }
    }

    // MARK: closing

    /// Sends a FATAL error and closes.
    func closeWithError(_ error: ErrorResponse, reason: String) {
        guard phase != .closed else { return }
        send(error.encoded)
        close(reason: reason, error: error)
    }

    /// Closes the connection and gives back or cleans up whatever it held.
    func close(reason: String, quiet: Bool = false, error: ErrorResponse? = nil) {
        guard phase != .closed else { return }
        let previous = phase
        phase = .closed
        loginTimer?.cancel()
        waitTimer?.cancel()
        if let server {
            self.server = nil
            server.clientLeft(clientMidMessage: passthrough > 0)
        }
        if previous == .waiting || previous == .awaitingParameters { pool?.cancelWait(for: self) }
        if leakReported, let started = busySince {
            leakReported = false
            runtime.logger.notice("leak suspect released its server", metadata: [
                "client": "\(peer)", "database": "\(database)", "user": "\(user)",
                "application_name": "\(applicationName)", "held_for_s": "\(Double(runtime.loop.now &- started) / 1000)",
                "reason": "\(reason)"])
        }
        _ = socket.flushPending()
        runtime.loop.deregister(socket.fd)
        socket.close()
        runtime.clientClosed(self, reason: reason, wasLoggedIn: previous != .startup && previous != .login,
                             quiet: quiet, error: error)
    }
}
