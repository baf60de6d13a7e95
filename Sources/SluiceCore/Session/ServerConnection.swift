// ServerConnection: one upstream PostgreSQL connection: socket, TLS, login, and carrying out its session machine's actions.
import Logging
import PostgresWire
import SluiceConfig
import SluiceIO

/// A connection from Sluice to the upstream. Loop-confined; its pool owns it. After login, the
/// session's decisions are `session`'s (a `ServerSessionMachine`); this class does the I/O.
/// The relay to the client is in ServerConnection+Relay.swift.
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
    var state: State = .connecting
    /// The login exchange while `state` is `.loggingIn` (dropped with its secrets afterwards).
    var login: ServerLoginMachine?
    private var connector: Connector?
    private(set) var socket: TCPSocket?
    let input = ByteBuffer(capacity: 4096)
    private(set) var client: ClientConnection?
    public internal(set) var parameters = ServerParameterState()
    public internal(set) var backendKey: BackendKeyData?
    /// The ParameterStatus values of this server's login, in order.
    var loginParameters: [(name: String, value: String)] = []
    public let id: UInt64
    /// This server's id in its pool's state machine.
    let poolID: ServerID
    public let createdAt: UInt64
    public private(set) var idleSince: UInt64
    public private(set) var linkedSince: UInt64 = 0
    /// The session after login. Written only by this class (here and in its extension files),
    /// and only through the machine's own events.
    var session = ServerSessionMachine()
    /// Bytes of a server message still to forward unparsed (the relay scan's; see RelayScan.swift).
    var passthrough = 0
    /// The FATAL the server sent before going away (told to its client under server_loss = "close").
    var lostWithError: ErrorResponse?
    /// Whoever waits for the internal statements running now.
    var internalCompletion: ((ErrorResponse?) -> Void)?
    private var interest = ReadinessInterest()
    var connectStartedAt: UInt64 = 0
    /// The hosts this connection tries (one for most URLs) and which one it reached.
    var selection: HostSelection
    /// What the server turned out to be (`in_hot_standby`, `default_transaction_read_only`).
    public internal(set) var role: ServerRole = .unknown
    /// The host this connection reached (or is trying).
    public var upstreamHost: UpstreamHost { selection.current }
    /// Set when the server stopped being what `target_session_attrs` asks for (a standby promoted,
    /// a primary demoted, `25006` on a read-write pool): closed when next released, never reused.
    var retireReason: String?
    /// Connected to another host because a standby was too far behind: replaced once it may have
    /// caught up (`Pool.provisionalExpired`).
    var provisional = false
    /// The value the last internal statement returned (the lag check's one column).
    var internalFirstValue: String?
    /// Reading a standby's lag before the login is reported to the pool.
    var loginLagCheck = false

    /// Set on a pool's notification listener (ServerConnection+Listener.swift): its login, messages
    /// and close are reported to the relay, not to the pool's machine.
    weak var notificationRelay: NotificationRelay?

    init(pool: Pool, runtime: ProxyRuntime, poolID: ServerID) {
        self.pool = pool
        self.runtime = runtime
        self.poolID = poolID
        self.id = runtime.nextID()
        self.createdAt = runtime.loop.now
        let url = pool.settings.url
        self.selection = HostSelection(hosts: url.hosts, attrs: url.targetSessionAttrs,
                                       order: url.loadBalanceHosts ? Array(url.hosts.indices).shuffled() : nil)
        self.idleSince = runtime.loop.now
    }

    var isLoggingIn: Bool {
        switch state { case .connecting, .negotiatingTLS, .tlsHandshake, .loggingIn: return true; default: return loginLagCheck }
    }
    var isLinked: Bool {
        switch state { case .linked, .internalQuery: return client != nil; default: return false }
    }
    /// Running `server_check_query` before being handed out.
    private(set) var isTesting = false

    public var transactionStatus: TransactionStatus { session.transactionStatus }
    var pendingReadyForQuery: Int { session.pendingReadyForQuery }
    var queryStartedAt: UInt64 { session.queryStartedAt }
    var queryTimeoutFired: Bool { session.queryTimeoutFired }

    var stateName: String {
        switch state {
        case .connecting, .negotiatingTLS, .tlsHandshake, .loggingIn: return "login"
        case .idle: return "idle"
        case .linked: return "active"
        case .internalQuery: return loginLagCheck ? "login" : client != nil ? "active" : isTesting ? "tested" : "used"
        case .closed: return "closed"
        }
    }

    // MARK: connect and login

    func connect() {
        connectStartedAt = MonotonicClock.microseconds()
        connectToHost()
    }

    func connectToHost() {
        let target = selection.current
        state = .connecting
        input.clear()
        interest = ReadinessInterest()
        parameters = ServerParameterState()
        loginLagCheck = false
        connector = Connector.connect(host: target.host, port: target.port, timeout: pool.settings.serverConnectTimeout,
                                      loop: runtime.loop) { [self] result in
            // Strong: teardown() cancels the connector, which drops this closure.
            self.connector = nil
            switch result {
            case .success(let fd): self.connected(fd: fd)
            case .failure(let error):
                self.state = .closed
                self.hostFailed(ServerLoginFailure(code: SQLState.connectionFailure, message: "\(error)", retryable: true))
            }
        }
    }

    /// The host tried now failed (`failure`): the next host of a multi-host URL, or the pool learns
    /// of the failure. A refused password (not retryable) ends the attempt at once, as in libpq.
    func hostFailed(_ failure: ServerLoginFailure) {
        teardown()
        guard failure.retryable, selection.hosts.count > 1 || selection.attrs != .any else {
            reportLoginFailure(failure)
            return
        }
        pool.countHostPassedOver(selection.current, reason: "unreachable")
        switch selection.connectFailed(failure.message) {
        case .tryHost: connectToHost()
        case .fail(let message):
            reportLoginFailure(ServerLoginFailure(code: failure.code, message: message, retryable: true))
        case .accept: preconditionFailure("invalid state: a failed host accepted")
        }
    }

    private func connected(fd: Int32) {
        let socket = TCPSocket(fd: fd)
        self.socket = socket
        runtime.applyKeepalive(socket)
        do { try runtime.loop.register(fd, handler: self, read: true, write: false) } catch {
            socket.close()
            state = .closed
            reportLoginFailure(ServerLoginFailure(code: SQLState.connectionFailure, message: "\(error)", retryable: true))
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
        send(ServerLoginMachine.startupPacket(user: url.user, database: url.database, options: url.options,
                                              extra: notificationRelay?.startupParameters ?? []))
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
                  let session = try? TLSSession(context: context, role: .client(serverName: selection.current.host)) else {
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
                                         message: "TLS handshake with \(selection.current) failed (sslmode=\(url.sslMode.rawValue)): \(error)",
                                         retryable: false))
        case .complete:
            runtime.countTLSHandshake(side: "server", version: socket.tlsSession?.negotiatedProtocol, failure: nil)
            sendStartup()
            if socket.hasBufferedPlaintext { readAvailable() }
        }
    }

    func failLogin(_ failure: ServerLoginFailure) {
        hostFailed(failure)
    }

    /// A login that did not finish goes to the pool's machine, or to the relay for its listener.
    func reportLoginFailure(_ failure: ServerLoginFailure) {
        if let relay = notificationRelay {
            relay.listenerLoginFailed(self, failure: failure)
        } else {
            pool.serverLoginFailed(self, failure: failure)
        }
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
        internalCompletion = completion
        state = .internalQuery
        updateInterest()
        run(session.internalQueriesStarted(queries))
    }

    // MARK: linking

    /// The pool gave this server to `client`: align session parameters, then relay.
    func link(to client: ClientConnection) {
        self.client = client
        linkedSince = runtime.loop.now
        passthrough = 0
        session.clientLinked()
        if let alignment = parameters.alignmentIfNeeded(to: client.wanted) {
            runInternal([alignment.sql]) { [self, client] error in
                if let error {
                    // The failed SET rolled back and the server is sound: the client goes with the
                    // server's own error (e.g. 22023 at login), and the server is cleaned up and reused
                    // as when any client leaves (`clientLeft`).
                    self.state = .linked
                    client.closeWithError(ErrorResponse(severity: .fatal, code: error.code ?? SQLState.invalidParameterValue,
                                                        message: error.message ?? "could not apply session parameters"),
                                          reason: "bad_parameter")
                    if self.client === client { self.clientLeft(clientMidMessage: false, reset: client.resetOnLeave()) }  // the client was already closed
                    return
                }
                self.parameters.aligned(set: alignment.set, reset: alignment.reset, replay: alignment.replay)
                self.pool.learnCanonicalParameters(set: alignment.set, from: self)
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
        session.becameIdle()
        state = .idle
        idleSince = now
        input.clear()
        // Servers are few: keep the 16 KiB a read reserves (shrinking to less reallocated on every
        // transaction), give back only what a large result grew.
        if input.capacity > 65536 { input.shrink(to: 16384) }
        updateInterest()
    }

    /// The client left (or, with `server_reset_query_always`, finished a transaction). Reuse the
    /// server if it can be made clean, else close it. `reset`: the statement that cleans it
    /// (`ClientConnection.resetOnLeave`) and the reason counted for it.
    func clientLeft(clientMidMessage: Bool, reset: (query: String, reason: String)?) {
        client = nil
        var relaying = false
        if case .linked = state { relaying = true }
        switch session.clientLeft(relaying: relaying, midMessage: passthrough > 0 || clientMidMessage || input.readableBytes > 0,
                                  resetQuery: reset?.query) {
        case .cancelAndClose(let reason):
            cancelBackend()
            close(reason: reason)
        case .release:
            pool.release(self)
        case .runCleanup(let cleanup):
            if let reset, reset.reason != "session_client_left" { pool.countServerReset(reset.reason) }
            runInternal(cleanup) { [self] error in
                switch self.session.cleanupFinished(failed: error != nil, reset: reset != nil) {
                case .close(let reason):
                    self.close(reason: reason)
                case .release(let discardParameters):
                    if discardParameters { self.parameters.discarded() }
                    self.pool.release(self)
                }
            }
        }
    }

    // MARK: closing

    func teardown() {
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
            reportLoginFailure(ServerLoginFailure(code: SQLState.connectionFailure,
                                                  message: "server closed the connection during login (\(reason))", retryable: true))
        } else if let relay = notificationRelay {
            relay.listenerClosed(self, reason: reason)
        } else {
            pool.serverClosed(self)
        }
        if let client {
            self.client = nil
            client.serverLost(reason: reason, midMessage: passthrough > 0, pendingReadyForQuery: session.pendingReadyForQuery,
                              inTransaction: session.transactionStatus != .idle, serverError: lostWithError)
        }
        internalCompletion = nil  // whoever waited on it is the client, told above, or the pool
    }
}
