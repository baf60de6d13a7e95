// ClientConnection: one application connection: its socket, timers and pool seams, running its login, session and console machines.
import Logging
import PostgresWire
import SluiceIO

/// A connection from an application to Sluice. Loop-confined. It keeps the socket, TLS, timers
/// and the relay's scan loop; the decisions are its machines': `ClientLoginMachine` until the
/// client is authenticated, then `ClientSessionMachine` (a pooled client) or `AdminSession` (the
/// console). Extensions: `+Login` (startup, TLS, authentication), `+Relay` (client → server,
/// failed requests, prepared statements), `+Admin` (the console).
public final class ClientConnection: IOHandler {
    /// What `SHOW CLIENTS`, the snapshot and the janitor see: the stage, and in a pooled session the machine's phase.
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

    /// Which machine the connection runs.
    enum Stage {
        case startup, tlsHandshake, login
        /// Authenticated; waiting for the pool to learn the server's parameters.
        case awaitingParameters
        /// Logged in to a pool: `session` decides.
        case session
        /// Logged in to the admin console: `admin` decides.
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
    // Written only by this class and its extensions (other files: +Login, +Relay, +Admin).
    var stage: Stage = .startup
    var login: ClientLoginMachine
    /// The pooled session after login; changed only through its events.
    var session = ClientSessionMachine()
    /// The console session, for a client of the admin database.
    var admin: AdminSession?
    /// The client's named statements (client name → shared server-side statement).
    var statements = StatementMapper()
    /// Its part of the LISTEN/NOTIFY relay (Notify/ClientConnection+Notify.swift); nil until it LISTENs.
    var notify: ClientNotifications?
    /// Bytes of a client message still to forward unparsed.
    var passthrough = 0
    /// Whether the connection was opened with a direct TLS ClientHello (PostgreSQL 17 `sslnegotiation=direct`).
    var directTLS = false
    var interest = ReadinessInterest()
    private(set) var pool: Pool?
    var server: ServerConnection?
    public private(set) var user = ""
    public private(set) var database = ""
    public internal(set) var applicationName = ""
    /// Where this client's per-application numbers go (ClientConnection+Application.swift).
    var applicationSlot: ApplicationSlot
    /// The BackendKeyData given to the client: in session mode the pid of the backend it got at
    /// login, else a pid of Sluice's; the secret is always Sluice's (`ProxyRuntime.registerCancelKey`).
    public internal(set) var processID: Int32 = 0
    public internal(set) var secretKey: UInt32 = 0
    public let connectedAt: UInt64
    /// Loop time this client started waiting in the pool's queue.
    private(set) var waitStartedAt: UInt64 = 0
    var loginTimer: Timer?
    private var waitTimer: Timer?
    /// Counted in the per-database and per-user client limits.
    private(set) var admitted = false
    /// The login takes a server before it finishes (ClientConnection+LoginServer.swift).
    var loginTakesServer = false
    /// A failed login waiting out `auth_failure_delay`.
    private var authFailurePending = false
    /// Loop time of the last bytes read from the client (idle timeouts).
    private(set) var lastReadAt: UInt64 = 0

    init(fd: Int32, peer: SocketAddress, runtime: ProxyRuntime) {
        self.runtime = runtime
        self.lastReadAt = runtime.loop.now
        self.socket = TCPSocket(fd: fd)
        self.peer = peer
        self.id = runtime.nextID()
        self.connectedAt = runtime.loop.now
        self.applicationSlot = runtime.applications.overflowSlot
        self.login = ClientLoginMachine(method: runtime.clientAuthentication, tlsAvailable: runtime.clientTLSAvailable,
                                        randomBytes: secureRandomBytes)
    }

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
        if stage == .closed { return }
        if stage == .tlsHandshake { driveHandshake(); return }
        if writable {
            guard socket.flushPending() else { close(reason: "write_error"); return }
            if !socket.hasPendingWrites {
                updateInterest()
                server?.clientDrained()
                if notify != nil { deliverNotifications() }
            }
        }
        if readable && stage != .closed { readAvailable() }
    }

    func readAvailable() {
        repeat {
            switch socket.read(into: input, chunk: passthrough > 0 ? 65536 : phase == .linked ? 4096 : 512) {
            case .wouldBlock: return
            case .endOfFile:
                // A connection closed before sending a byte is a port probe (a load balancer's TCP
                // health check, a script waiting for the port): counted, logged at debug only.
                if stage == .startup && input.isEmpty { close(reason: "probe", quiet: true); return }
                close(reason: "client_close"); return
            case .failed: close(reason: socket.isTLS ? "tls_error" : "client_error"); return
            case .bytes: lastReadAt = runtime.loop.now
            }
            process()
            // TLS may hold decrypted bytes that epoll will not announce again.
        } while socket.hasBufferedPlaintext && interest.read && stage != .closed && stage != .tlsHandshake
    }

    /// "TLSv1.3" when encrypted.
    var tlsDescription: String? { socket.tlsSession?.negotiatedProtocol }

    func process() {
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
        guard stage != .closed else { return }
        let wantRead: Bool
        switch phase {
        case .awaitingParameters, .waiting: wantRead = false
        case _ where authFailurePending: wantRead = false
        case .linked: wantRead = !(server?.hasPendingWrites ?? true) && server?.isLinked == true
        case .idle where notify?.awaited != nil: wantRead = false  // its LISTEN waits for the listener
        default: wantRead = true
        }
        if interest.update(read: wantRead, write: socket.hasPendingWrites, socket: socket, loop: runtime.loop) {
            runtime.loop.execute { [self] in
                guard interest.read, stage != .closed else { return }
                readAvailable()
            }
        }
    }

    /// Writes to the client; false if the client is gone.
    func sendToClient(_ pointer: UnsafeRawPointer, count: Int) -> Bool {
        guard stage != .closed else { return false }
        if !socket.write(pointer, count: count) { close(reason: "write_error"); return false }
        if socket.hasPendingWrites { updateInterest(); server?.updateInterest() }
        return true
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { sendToClient($0.baseAddress!, count: $0.count) }
    }

    /// The server's socket drained: read from the client again.
    func serverDrained() { updateInterest() }

    // MARK: login

    /// Runs the login machine's action.
    func perform(_ action: ClientLoginMachine.Action) {
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
            if stage == .startup && !runtime.isAdminDatabase(login.database) {
                if let refusal = runtime.admit(database: login.database, user: login.user, applicationName: login.applicationName) {
                    user = login.user
                    database = login.database
                    closeWithError(refusal, reason: "limit")
                    return
                }
                admitted = true
                user = login.user
                database = login.database
            }
            stage = .login
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
            if runtime.isAdminDatabase(database) {
                guard let privilege = runtime.adminPrivilege(database: database, user: user) else {
                    closeWithError(ErrorResponse(severity: .fatal, code: SQLState.insufficientPrivilege,
                                                 message: "user \"\(user)\" is not allowed to use the admin console (not in admin_users or stats_users)"),
                                   reason: "not_admin")
                    return
                }
                (processID, secretKey) = runtime.registerCancelKey(for: self)
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
            applicationSlot = runtime.applications.resolve(applicationName, now: runtime.loop.now, worker: runtime.worker)
            session = ClientSessionMachine(database: database, wanted: login.parameters)
            stage = .awaitingParameters
            updateInterest()
            beginPooledLogin(pool)  // ClientConnection+LoginServer.swift
        }
    }

    /// The pool knows its server parameters: finish the login with ParameterStatus, BackendKeyData, ReadyForQuery.
    func parametersAvailable() {
        guard phase == .awaitingParameters, server == nil, let pool, let serverParameters = pool.serverParameters else { return }
        finishLogin(parameterStatus: serverParameters.map { (name: $0.name, value: wanted[$0.name.lowercased()] ?? $0.value) })
    }

    /// Ends the login: ParameterStatus `parameterStatus`, BackendKeyData (a Sluice-made key unless
    /// the login server's was registered), ReadyForQuery 'I'. A session-mode client keeps its login server.
    func finishLogin(parameterStatus: [(name: String, value: String)]) {
        waitTimer?.cancel()
        waitTimer = nil
        loginTimer?.cancel()
        if processID == 0 { (processID, secretKey) = runtime.registerCancelKey(for: self) }
        var writer = MessageWriter()
        for (name, value) in parameterStatus { writer.write(ParameterStatus(name: name, value: value)) }
        writer.write(BackendKeyData(processID: processID, secretKey: secretKey))
        writer.write(ReadyForQuery(status: .idle))
        stage = .session
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
        if phase == .idle || (stage == .awaitingParameters && loginTakesServer && server == nil) {
            session.waitStarted()
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
        let action = session.requestArrived()
        guard case .acquireServer = action else { run(action); return }
        while answerParseSyncLocally() || answerListenLocally() {}
        guard phase == .idle, input.readableBytes >= 5, !listenHoldsRequest else { return }
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
        // Per application, a wait counts once per transaction (or session): not a transaction-mode
        // login that only takes a server to learn how it spells the client's settings.
        if stage != .awaitingParameters || pool?.settings.mode == .session {
            recordApplication(.poolWait, milliseconds: session.phase == .waiting ? runtime.loop.now &- waitStartedAt : 0)
        }
        session.serverLinked(now: runtime.loop.now)
    }

    /// The server is ready: forward what the client has sent (or, at login, finish the login).
    func serverReadyForRelay() {
        if stage == .awaitingParameters, let server { loginServerReady(server); return }
        guard phase == .linked else { return }
        updateInterest()
        relayToServer()
    }

    /// The server saw ReadyForQuery 'I' with nothing outstanding (transaction mode): give it back.
    func transactionFinished() {
        guard let server, let pool else { return }
        self.server = nil
        session.serverReleased()
        if input.isEmpty && input.capacity > 8192 { input.shrink(to: 256) }  // after a large message
        pool.serverHeld(milliseconds: runtime.loop.now - linkedAt)
        recordApplication(.serverHold, milliseconds: runtime.loop.now - linkedAt)
        if pool.settings.serverResetQueryAlways, let reset = resetOnLeave() {
            // server_reset_query_always: the server is cleaned before it goes back.
            pool.clientLeft(self, holding: server)
            server.clientLeft(clientMidMessage: false, reset: reset)
        } else if pool.settings.maxReplicaLag > 0, pool.lagCheckDue(server) {
            pool.clientLeft(self, holding: server)
            server.checkLagThenRelease()
        } else {
            pool.release(server)
        }
        updateInterest()
        if notify != nil { deliverNotifications() }
        if input.readableBytes > 0 { process() }
    }

    /// The server died under this client: the session machine decides what the client is told
    /// (see `ClientSessionMachine.serverLost`); `serverError` is the FATAL the server sent, if any.
    func serverLost(reason: String, midMessage: Bool, pendingReadyForQuery: Int, inTransaction: Bool,
                    serverError: ErrorResponse? = nil) {
        server = nil
        if stage == .awaitingParameters { loginServerLost(); return }
        let action = session.serverLost(reason: reason, midMessage: midMessage, clientMidMessage: passthrough > 0,
                                        pendingReadyForQuery: pendingReadyForQuery + notifyServerLost(), inTransaction: inTransaction,
                                        mode: pool?.settings.mode ?? .transaction,
                                        policy: pool?.settings.serverLoss ?? .recover, serverError: serverError)
        run(action)
        if case .closeWithError = action { return }
        runtime.logger.info("server lost under a client; client kept", metadata: [
            "client": "\(peer)", "database": "\(database)", "reason": "\(reason)",
            "pending": "\(pendingReadyForQuery)", "in_transaction": "\(inTransaction)"])
        updateInterest()
        if notify != nil { deliverNotifications() }
        if input.readableBytes > 0 { process() }
    }

    /// Carries out one of the session machine's actions.
    func run(_ action: ClientSessionMachine.Action) {
        switch action {
        case .none, .failNextRequest, .acquireServer: break  // processIdle asks the pool itself
        case .answerFailedRequest: answerFailedRequest()
        case .closeWithError(let error, let reason): closeWithError(error, reason: reason)
        case .sendError(let error, let readyForQuery):
            var bytes = error.encoded
            for _ in 0..<readyForQuery { ReadyForQuery(status: .idle).encode(into: &bytes) }
            send(bytes)
        case .recordTransaction(let milliseconds, let leakSuspectReleased):
            pool?.transactionEnded(durationMilliseconds: milliseconds)
            recordApplication(.transaction, milliseconds: milliseconds)
            if leakSuspectReleased { logLeakReleased(heldMilliseconds: milliseconds, reason: nil) }
        case .reportLeakReleased(let milliseconds):
            logLeakReleased(heldMilliseconds: milliseconds, reason: nil)
        }
    }

    private func logLeakReleased(heldMilliseconds: UInt64, reason: String?) {
        var metadata: Logger.Metadata = [
            "client": "\(peer)", "database": "\(database)", "user": "\(user)",
            "application_name": "\(applicationName)", "held_for_s": "\(Double(heldMilliseconds) / 1000)"]
        if let reason { metadata["reason"] = "\(reason)" }
        runtime.logger.notice("leak suspect released its server", metadata: metadata)
    }

    // MARK: closing

    /// Sends a FATAL error and closes.
    func closeWithError(_ error: ErrorResponse, reason: String) {
        guard stage != .closed else { return }
        send(error.encoded)
        close(reason: reason, error: error)
    }

    /// Closes the connection and gives back or cleans up whatever it held.
    func close(reason: String, quiet: Bool = false, error: ErrorResponse? = nil) {
        guard phase != .closed else { return }
        let previous = phase
        stage = .closed
        let ended = session.connectionClosed(now: runtime.loop.now)
        loginTimer?.cancel()
        waitTimer?.cancel()
        if let server {
            self.server = nil
            let reset = resetOnLeave()
            pool?.clientLeft(self, holding: server)
            server.clientLeft(clientMidMessage: passthrough > 0, reset: reset)
        }
        if previous == .waiting || previous == .awaitingParameters { pool?.cancelWait(for: self) }
        if case .reportLeakReleased(let held) = ended { logLeakReleased(heldMilliseconds: held, reason: reason) }
        if notify != nil { notifyClientClosed() }
        _ = socket.flushPending()
        runtime.loop.deregister(socket.fd)
        socket.close()
        runtime.clientClosed(self, reason: reason, wasLoggedIn: previous != .startup && previous != .login,
                             quiet: quiet, error: error)
    }
}
