// PoolStateMachine: a pool's decisions (who gets which server; when to open, check, close, retry) as a value type.
import PostgresWire
import SluiceConfig

/// A client of the pool (the `ClientConnection.id`).
public struct ClientID: Hashable, Sendable, CustomStringConvertible {
    public var raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public var description: String { "c\(raw)" }
}

/// A server of the pool: its number in opening order (what logs and tests call it), and the slot
/// it holds in the pool's tables while it exists (slots are reused; the number never is).
public struct ServerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let number: UInt64
    let slot: Int
    init(number: UInt64, slot: Int) {
        self.number = number
        self.slot = slot
    }
    public var description: String { "s\(number)" }
    public static func < (a: ServerID, b: ServerID) -> Bool { a.number < b.number }
}

/// The pool's decisions, without sockets, clocks or randomness: those come in with each event
/// (`now` in the loop's milliseconds, `userServers` for `max_user_connections`, jitters), and
/// each event returns the `Action`s its executor (`Pool`) must carry out, in order.
/// Every server state change goes through `move(_:to:)`, which keeps `counts` and the idle stack.
struct PoolStateMachine {
    enum ServerState: Equatable {
        /// Connecting and logging in; reported back as `serverConnected` or `serverLoginFailed`.
        case connecting
        /// Running `server_check_query` before being lent; reported back as `checkSucceeded` / `checkFailed`.
        case checking
        /// In the idle stack since this loop time.
        case idle(since: UInt64)
        /// Lent to this client.
        case linked(ClientID)
        /// Its client left while linked; being rolled back / reset, then released or closed.
        case draining
        /// `closeServer` was emitted; its connection reports `serverClosed` (or `serverLoginFailed`) next.
        case closing
    }

    struct Server {
        let id: ServerID
        var state: ServerState
        /// Loop time when the machine decided to open it.
        let openedAt: UInt64
        /// `server_lifetime` with this server's jitter, known once it logged in.
        var lifetime: UInt64 = .max
        /// Opened as a cold start: the pool had no logged-in server, or the last login had failed
        /// (its connect time goes to the `cold` histogram).
        var cold = false
        func pastLifetime(now: UInt64) -> Bool { now &- openedAt >= lifetime }
    }

    struct Waiter {
        let client: ClientID
        let since: UInt64
        /// Told (once) that the upstream is not accepting connections yet.
        var noticed = false
    }

    /// Servers per state, kept by `move(_:to:)` (never recomputed by scanning).
    struct Counts: Equatable {
        var connecting = 0
        var checking = 0
        var idle = 0
        var active = 0
        var draining = 0
        var closing = 0
    }

    /// Cases with large payloads (errors) are `indirect`, boxed only when such an action is
    /// made (rarely), so the common actions stay a few words and copy cheaply.
    enum Action {
        /// Lend server `to` to the client: record `waitedMicroseconds` in the pool-wait histogram,
        /// tell the client its server (`serverAssigned`) and link the server to it.
        case linkClient(ClientID, to: ServerID, waitedMicroseconds: UInt64)
        /// Create a server connection under this id and connect it; it reports `serverConnected`
        /// or `serverLoginFailed`.
        case connectServer(ServerID)
        /// Run `server_check_query` on this server; report `checkSucceeded` or `checkFailed`.
        case checkServer(ServerID)
        /// Close this server with this reason (a linked client learns it from its server); the
        /// connection reports `serverClosed` (or `serverLoginFailed` if it was still logging in).
        case closeServer(ServerID, reason: String)
        /// The client now waits for a server or for the pool's parameters: stop reading it and
        /// start its `query_wait_timeout` timer (`seconds` 0: no timer). It reports `waitTimedOut`.
        case startWaitTimer(ClientID, seconds: Double)
        /// Send this FATAL error to the client and close it with this reason.
        indirect case closeClient(ClientID, ErrorResponse, reason: String)
        /// Send this FATAL error to each of these clients and close them with this reason.
        indirect case failWaiters([ClientID], ErrorResponse, reason: String)
        /// Report `retryTimerFired` after this long, replacing a retry timer still pending.
        case scheduleRetry(afterMilliseconds: UInt64)
        /// Report `reserveTimerFired` after this long, replacing a reserve timer still pending.
        case scheduleReserveCheck(afterMilliseconds: UInt64)
        /// First login of the pool: this server's ParameterStatus values become the pool's (what
        /// clients are told at login); share them with the other workers' pools of the database.
        case adoptParameters(from: ServerID)
        /// The pool's parameters are known: finish these clients' logins.
        case parametersAvailable([ClientID])
        /// Log this server's failed login (a warning with the failure and whether it is retried).
        indirect case logLoginFailure(ServerID, ServerLoginFailure)
        /// Tell this waiting client (a NOTICE) that the upstream is not accepting connections yet
        /// and how long it has waited.
        case noticeColdStart(ClientID, waitedSeconds: Int)
    }

    // The state below is written only by the machine's own events (in its extension files).
    var settings: PoolSettings
    var servers = ServerTable()
    /// Idle servers, most recently used last (handed out LIFO so the rest can time out).
    var idleStack: [ServerID] = []
    /// Clients that need a server, first come first served.
    var waiting = FIFOQueue<Waiter>()
    /// Clients that finished authentication before any server told us its parameters.
    var parameterWaiters: [Waiter] = []
    var counts = Counts()
    /// The decision counters are the machine's; the traffic ones (bytes, queries, transactions,
    /// statements, leak suspects) are added by the executor directly.
    var stats = PoolStats()
    var parametersKnown = false
    var lastConnectFailure: ServerLoginFailure?
    var lastConnectSuccess: UInt64 = 0
    var consecutiveFailures = 0
    /// Loop time of the last failed login.
    var lastFailureAt: UInt64 = 0
    /// Longest pause between login attempts while clients wait (seconds): an upstream that comes
    /// back is found within this, whatever `server_login_retry` says.
    static let retryWhileWaiting = 0.5
    /// A `scheduleRetry` is pending: no server is opened until `retryTimerFired`.
    var retryPending = false
    /// Set when the database was removed from the config: servers close when released.
    var retired = false
    /// PAUSE: no server is handed out; servers close as they come back.
    var paused = false
    /// sslmode=allow: a plaintext login was refused, so connect with TLS from now on (libpq's fallback).
    var allowNeedsTLS = false
    var nextServerNumber: UInt64 = 0

    /// The current event's inputs (set by `begin`).
    var now: UInt64 = 0
    /// Servers of the same upstream user in other pools of this runtime (for `max_user_connections`).
    var otherUserServers = 0
    /// The notification listener's connection (0 or 1): inside `max_db_connections`, outside `pool_size`.
    var listenerServers = 0

    init(settings: PoolSettings) {
        self.settings = settings
    }

    // MARK: reading

    /// Servers that count against the pool's limits (all but those already closing).
    var serverCount: Int { servers.count - counts.closing }
    var idleCount: Int { counts.idle }
    var activeCount: Int { counts.active }
    var connectingCount: Int { counts.connecting }
    var checkingCount: Int { counts.checking }
    var waitingCount: Int { waiting.count }
    var oldestWaitStart: UInt64? { waiting.first?.since }
    func state(of server: ServerID) -> ServerState? { servers[server]?.state }
    /// A checkout now would be served without queueing behind other clients or a PAUSE: not
    /// paused, nobody waiting, and a server idle or room under `pool_size` to open one while
    /// logins succeed.
    var lendsWithoutQueueing: Bool {
        !paused && !retired && waiting.isEmpty
            && (counts.idle > 0 || (serverCount < settings.poolSize && lastConnectFailure == nil))
    }
    /// Whether this server was opened as a cold start (see `Server.cold`).
    func openedCold(_ server: ServerID) -> Bool { servers[server]?.cold ?? false }
    /// Servers logged in (idle, being checked, lent or draining): none means the pool is cold.
    var loggedInCount: Int { counts.idle + counts.checking + counts.active + counts.draining }
    /// The server a client holds (a scan: for tests and the console, not the relay path).
    func server(of client: ClientID) -> ServerID? { servers.ids.first { servers[$0]?.state == .linked(client) } }

    /// Records the inputs every decision may need: the loop time and the runtime-wide number of
    /// servers of this pool's upstream user (this pool's included).
    mutating func begin(now: UInt64, userServers: Int) {
        self.now = now
        otherUserServers = userServers - serverCount
    }

    /// Servers of this pool's upstream user across the runtime, as of now.
    var userServerCount: Int { otherUserServers + serverCount }

    // MARK: the one transition

    /// Moves a server to `new` (nil: forgotten), checking the transition and keeping the counters,
    /// and the idle stack. A new server enters as `.connecting`. Inlined, so that where `new` is
    /// a constant (every call site) only the checks for that state remain.
    @inline(__always) mutating func move(_ id: ServerID, to new: ServerState?) {
        let old = servers[id]?.state
        switch (old, new) {
        case (nil, .connecting?),
             (.connecting?, .idle?), (.connecting?, .closing?), (.connecting?, nil),
             (.idle?, .linked?), (.idle?, .checking?), (.idle?, .closing?), (.idle?, nil),
             (.checking?, .idle?), (.checking?, .linked?), (.checking?, .closing?), (.checking?, nil),
             (.linked?, .idle?), (.linked?, .draining?), (.linked?, .closing?), (.linked?, nil),
             (.draining?, .idle?), (.draining?, .closing?), (.draining?, nil),
             (.closing?, nil):
            break
        default:
            preconditionFailure("invalid state: server \(id) cannot go from \(String(describing: old)) to \(String(describing: new))")
        }
        if let old {
            count(old, -1)
            switch old {
            case .idle:
                if idleStack.last == id { idleStack.removeLast() } else { idleStack.removeAll { $0 == id } }
            default:
                break
            }
        }
        guard let new else { servers[id] = nil; return }
        count(new, 1)
        switch new {
        case .idle: idleStack.append(id)
        default: break
        }
        if old == nil {
            servers[id] = Server(id: id, state: new, openedAt: now)
        } else {
            servers.setState(new, of: id)
        }
    }

    private mutating func count(_ state: ServerState, _ delta: Int) {
        switch state {
        case .connecting: counts.connecting += delta
        case .checking: counts.checking += delta
        case .idle: counts.idle += delta
        case .linked: counts.active += delta
        case .draining: counts.draining += delta
        case .closing: counts.closing += delta
        }
    }
}
