// Tests for PoolStateMachine: event → expected action scripts, and the counters after each step, without sockets.
import XCTest
import PostgresWire
import SluiceConfig
@testable import SluiceCore

/// One pool's machine with a clock that the test moves by hand; every event returns its actions as short strings.
private struct Script {
    var machine: PoolStateMachine
    var now: UInt64 = 1_000_000
    /// Servers of the same upstream user in other pools (for `max_user_connections`).
    var otherUserServers = 0
    var userServers: Int { machine.serverCount + otherUserServers }

    init(_ configure: (inout PoolSettings) -> Void = { _ in }) {
        var config = SluiceConfig()
        config.defaultPoolSize = 2
        let database = DatabaseConfig(name: "app", url: UpstreamURL(host: "127.0.0.1", user: "app", database: "app"))
        var settings = PoolSettings(config: config, database: database)
        settings.serverCheckDelay = 3600
        settings.queryWaitTimeout = 120
        settings.reservePoolSize = 0
        settings.serverLifetime = 0
        settings.serverIdleTimeout = 0
        settings.minPoolSize = 0
        settings.serverLoginRetry = 15
        settings.maxQueueLength = 0
        settings.maxDBConnections = 0
        settings.maxUserConnections = 0
        configure(&settings)
        machine = PoolStateMachine(settings: settings)
    }

    mutating func advance(seconds: Double) { now += UInt64(seconds * 1000) }

    mutating func checkout(_ c: UInt64) -> [String] { text(machine.checkoutRequested(ClientID(c), now: now, userServers: userServers)) }
    mutating func parameters(_ c: UInt64) -> [String] { text(machine.parametersRequested(ClientID(c), now: now, userServers: userServers)) }
    /// The server the machine opened as number `n` (s1, s2, … in its actions).
    func id(_ n: UInt64) -> ServerID { machine.servers.ids.first { $0.number == n } ?? ServerID(number: n, slot: -1) }
    /// The client leaves, with the server it holds if any (as `Pool` reports it).
    mutating func left(_ c: UInt64) -> [String] { text(machine.clientLeft(ClientID(c), holding: machine.server(of: ClientID(c)))) }
    mutating func timedOut(_ c: UInt64) -> [String] { text(machine.waitTimedOut(ClientID(c))) }
    mutating func connected(_ s: UInt64, jitter: Double = 1) -> [String] {
        text(machine.serverConnected(id(s), lifetimeJitter: jitter, now: now, userServers: userServers))
    }
    mutating func loginFailed(_ s: UInt64, code: String = SQLState.cannotConnectNow, retryable: Bool = true, jitter: Double = 1) -> [String] {
        text(machine.serverLoginFailed(id(s), failure: ServerLoginFailure(code: code, message: "the database system is starting up", retryable: retryable),
                                       retryJitter: jitter, now: now, userServers: userServers))
    }
    mutating func released(_ s: UInt64) -> [String] { text(machine.serverReleased(id(s), now: now, userServers: userServers)) }
    mutating func closed(_ s: UInt64) -> [String] { text(machine.serverClosed(id(s), now: now, userServers: userServers)) }
    mutating func checked(_ s: UInt64, ok: Bool) -> [String] {
        text(ok ? machine.checkSucceeded(id(s), now: now, userServers: userServers) : machine.checkFailed(id(s)))
    }
    mutating func retryFired() -> [String] { text(machine.retryTimerFired(now: now, userServers: userServers)) }
    mutating func reserveFired() -> [String] { text(machine.reserveTimerFired(now: now, userServers: userServers)) }
    mutating func janitor() -> [String] { text(machine.janitorTick(now: now, userServers: userServers)) }
    mutating func resume() -> [String] { text(machine.resumeRequested(now: now, userServers: userServers)) }

    var counts: String {
        let c = machine.counts
        return "servers=\(machine.serverCount) connecting=\(c.connecting) checking=\(c.checking) idle=\(c.idle) active=\(c.active) draining=\(c.draining) closing=\(c.closing) waiting=\(machine.waitingCount)"
    }

    func text<S: Sequence>(_ actions: S) -> [String] where S.Element == PoolStateMachine.Action { actions.map(Self.describe) }

    static func describe(_ action: PoolStateMachine.Action) -> String {
        switch action {
        case .linkClient(let c, let s, let waited): return "link \(c) \(s) waited=\(waited / 1000)ms"
        case .connectServer(let s): return "connect \(s)"
        case .checkServer(let s): return "check \(s)"
        case .closeServer(let s, let reason): return "close \(s) \(reason)"
        case .startWaitTimer(let c, let seconds): return "wait \(c) \(Int(seconds))s"
        case .closeClient(let c, let error, let reason): return "closeClient \(c) \(error.code ?? "") \(reason)"
        case .failWaiters(let cs, let error, let reason): return "fail \(cs.map(\.description).joined(separator: ",")) \(error.code ?? "") \(reason)"
        case .scheduleRetry(let ms): return "retry \(ms)ms"
        case .scheduleReserveCheck(let ms): return "reserveCheck \(ms)ms"
        case .adoptParameters(let s): return "adopt \(s)"
        case .parametersAvailable(let cs): return "parameters \(cs.map(\.description).joined(separator: ","))"
        case .logLoginFailure(let s, _): return "logFailure \(s)"
        case .noticeColdStart(let c, let seconds): return "notice \(c) \(seconds)s"
        }
    }
}

final class PoolStateMachineTests: XCTestCase {
    func testFIFOOrderOfWaiters() {
        var p = Script()
        XCTAssertEqual(p.checkout(1), ["wait c1 120s", "connect s1"])
        XCTAssertEqual(p.checkout(2), ["wait c2 120s", "connect s2"])
        XCTAssertEqual(p.checkout(3), ["wait c3 120s"])  // pool_size 2: no third server
        XCTAssertEqual(p.counts, "servers=2 connecting=2 checking=0 idle=0 active=0 draining=0 closing=0 waiting=3")
        p.advance(seconds: 0.05)
        XCTAssertEqual(p.connected(2), ["adopt s2", "link c1 s2 waited=50ms"])
        XCTAssertEqual(p.connected(1), ["link c2 s1 waited=50ms"])
        p.advance(seconds: 0.01)
        XCTAssertEqual(p.released(1), ["link c3 s1 waited=60ms"])
        XCTAssertEqual(p.counts, "servers=2 connecting=0 checking=0 idle=0 active=2 draining=0 closing=0 waiting=0")
        XCTAssertEqual(p.machine.stats.checkoutRequests, 3)
        XCTAssertEqual(p.machine.stats.checkouts, 3)
        XCTAssertEqual(p.machine.stats.waitMicroseconds, 160_000)
        XCTAssertEqual(p.machine.stats.serversOpened, 2)
    }

    func testLIFOIdleHandOut() {
        var p = Script()
        _ = p.checkout(1); _ = p.checkout(2)
        _ = p.connected(1); _ = p.connected(2)
        XCTAssertEqual(p.released(1), [])
        p.advance(seconds: 1)
        XCTAssertEqual(p.released(2), [])
        XCTAssertEqual(p.machine.idleStack.map(\.number), [1, 2])
        XCTAssertEqual(p.counts, "servers=2 connecting=0 checking=0 idle=2 active=0 draining=0 closing=0 waiting=0")
        XCTAssertEqual(p.checkout(3), ["link c3 s2 waited=0ms"])  // the most recently used
        XCTAssertEqual(p.checkout(4), ["link c4 s1 waited=0ms"])
        XCTAssertEqual(p.counts, "servers=2 connecting=0 checking=0 idle=0 active=2 draining=0 closing=0 waiting=0")
        XCTAssertEqual(p.machine.server(of: ClientID(4))?.number, 1)
    }

    func testReservePoolOpensOnlyAfterTimeoutAndIsReleasedAfterTheRush() {
        var p = Script { $0.poolSize = 1; $0.reservePoolSize = 1; $0.reservePoolTimeout = 5 }
        XCTAssertEqual(p.checkout(1), ["wait c1 120s", "reserveCheck 5001ms", "connect s1"])
        XCTAssertEqual(p.connected(1), ["adopt s1", "link c1 s1 waited=0ms"])
        XCTAssertEqual(p.checkout(2), ["wait c2 120s", "reserveCheck 5001ms"])
        p.advance(seconds: 4)
        XCTAssertEqual(p.checkout(3), ["wait c3 120s"])
        XCTAssertEqual(p.reserveFired(), ["reserveCheck 5001ms"])  // c2 has waited 4 s only
        p.advance(seconds: 1)
        XCTAssertEqual(p.reserveFired(), ["connect s2", "reserveCheck 5001ms"])
        XCTAssertEqual(p.machine.stats.reserveServersOpened, 1)
        XCTAssertEqual(p.machine.serverCapacity, 2)
        XCTAssertEqual(p.connected(2), ["link c2 s2 waited=5000ms"])
        XCTAssertEqual(p.released(1), ["link c3 s1 waited=1000ms"])
        // The rush is over: the first server given back beyond pool_size closes, the other stays.
        XCTAssertEqual(p.released(2), ["close s2 reserve_released"])
        XCTAssertEqual(p.counts, "servers=1 connecting=0 checking=0 idle=0 active=1 draining=0 closing=1 waiting=0")
        XCTAssertEqual(p.closed(2), [])
        XCTAssertEqual(p.released(1), [])
        XCTAssertEqual(p.counts, "servers=1 connecting=0 checking=0 idle=1 active=0 draining=0 closing=0 waiting=0")
        XCTAssertEqual(p.reserveFired(), [])  // nobody waits: no more checks
        XCTAssertEqual(p.machine.stats.serversClosed, 1)
    }

    func testMaxQueueLengthRefusesWith53300() {
        var p = Script { $0.poolSize = 1; $0.maxQueueLength = 2 }
        _ = p.checkout(1)
        _ = p.checkout(2)
        var actions = Array(p.machine.checkoutRequested(ClientID(3), now: p.now, userServers: p.userServers))
        XCTAssertEqual(p.text(actions), ["closeClient c3 53300 max_queue_length"])
        guard case .closeClient(_, let error, _) = actions.removeFirst() else { return XCTFail() }
        XCTAssertEqual(error.message, "too many clients waiting for a server of database \"app\" (max_queue_length=2)")
        XCTAssertEqual(p.machine.stats.queueRefusals, 1)
        XCTAssertEqual(p.machine.waitingCount, 2)
    }

    func testMaxDBConnectionsAndMaxUserConnectionsCapOpening() {
        var p = Script { $0.poolSize = 5; $0.maxDBConnections = 2 }
        XCTAssertEqual(p.checkout(1), ["wait c1 120s", "connect s1"])
        XCTAssertEqual(p.checkout(2), ["wait c2 120s", "connect s2"])
        XCTAssertEqual(p.checkout(3), ["wait c3 120s"])
        var q = Script { $0.poolSize = 5; $0.maxUserConnections = 3 }
        q.otherUserServers = 2
        XCTAssertEqual(q.checkout(1), ["wait c1 120s", "connect s1"])
        XCTAssertEqual(q.checkout(2), ["wait c2 120s"])  // 2 elsewhere + 1 here = 3
        q.otherUserServers = 1  // another pool closed one
        XCTAssertEqual(q.checkout(3), ["wait c3 120s", "connect s2"])
    }

    func testLifetimeAndIdleExpiryKeepMinPoolSize() {
        var p = Script { $0.minPoolSize = 1; $0.serverIdleTimeout = 10; $0.serverLifetime = 100 }
        XCTAssertEqual(p.janitor(), ["connect s1"])  // towards min_pool_size
        XCTAssertEqual(p.janitor(), [])  // s1 still connecting
        XCTAssertEqual(p.connected(1), ["adopt s1"])
        _ = p.checkout(1); _ = p.checkout(2)
        XCTAssertEqual(p.counts, "servers=2 connecting=1 checking=0 idle=0 active=1 draining=0 closing=0 waiting=1")
        XCTAssertEqual(p.connected(2, jitter: 0.9), ["link c2 s2 waited=0ms"])
        p.advance(seconds: 1)
        _ = p.released(2)
        p.advance(seconds: 1)
        _ = p.released(1)  // most recently used: kept for min_pool_size
        p.advance(seconds: 10)
        XCTAssertEqual(p.janitor(), ["close s2 idle_timeout"])
        XCTAssertEqual(p.closed(2), [])
        XCTAssertEqual(p.janitor(), [])
        p.advance(seconds: 80)  // 92 s: past s2's would-be 90 s, before s1's 100 s
        XCTAssertEqual(p.janitor(), [])
        p.advance(seconds: 8)
        XCTAssertEqual(p.janitor(), ["close s1 lifetime", "connect s3"])
        XCTAssertEqual(p.counts, "servers=1 connecting=1 checking=0 idle=0 active=0 draining=0 closing=1 waiting=0")
        XCTAssertEqual(p.closed(1), [])
        // A server released past its lifetime closes instead of going idle.
        XCTAssertEqual(p.connected(3), [])
        _ = p.checkout(3)
        p.advance(seconds: 100)
        XCTAssertEqual(p.released(3), ["close s3 lifetime"])
        XCTAssertEqual(p.machine.stats.serversClosed, 2)
    }

    func testCheckBeforeLendingGoesToTheLongestWaiterOrCloses() {
        var p = Script { $0.poolSize = 1; $0.serverCheckDelay = 30 }
        _ = p.checkout(1); _ = p.connected(1); _ = p.released(1)
        p.advance(seconds: 31)
        XCTAssertEqual(p.checkout(2), ["check s1", "wait c2 120s"])  // the check counts as the one coming
        XCTAssertEqual(p.checkout(3), ["wait c3 120s"])
        XCTAssertEqual(p.counts, "servers=1 connecting=0 checking=1 idle=0 active=0 draining=0 closing=0 waiting=2")
        p.advance(seconds: 0.002)
        XCTAssertEqual(p.checked(1, ok: true), ["link c2 s1 waited=2ms"])
        XCTAssertEqual(p.machine.stats.serverChecks, 1)
        XCTAssertEqual(p.released(1), ["link c3 s1 waited=2ms"])  // idle 0 s: no check
        _ = p.released(1)
        p.advance(seconds: 30)
        XCTAssertEqual(p.checkout(4), ["check s1", "wait c4 120s"])
        XCTAssertEqual(p.checked(1, ok: false), ["close s1 check_failed"])
        XCTAssertEqual(p.closed(1), ["connect s2"])
        XCTAssertEqual(p.connected(2), ["link c4 s2 waited=0ms"])
        XCTAssertEqual(p.counts, "servers=1 connecting=0 checking=0 idle=0 active=1 draining=0 closing=0 waiting=0")
    }

    func testServerLostWhileIdleLinkedOrConnecting() {
        var p = Script()
        _ = p.checkout(1); _ = p.checkout(2); _ = p.connected(1); _ = p.connected(2)
        _ = p.released(1)
        XCTAssertEqual(p.closed(1), [])  // idle: forgotten, nobody waits
        XCTAssertEqual(p.machine.idleStack, [])
        XCTAssertEqual(p.counts, "servers=1 connecting=0 checking=0 idle=0 active=1 draining=0 closing=0 waiting=0")
        _ = p.checkout(3)  // opens s3
        XCTAssertEqual(p.closed(2), [])  // linked: its client learns it from the server; s3 is on its way
        XCTAssertNil(p.machine.server(of: ClientID(2)))
        XCTAssertEqual(p.counts, "servers=1 connecting=1 checking=0 idle=0 active=0 draining=0 closing=0 waiting=1")
        // Connecting: closing during login reports a (retryable) login failure.
        XCTAssertEqual(p.loginFailed(3, code: SQLState.connectionFailure), ["logFailure s3", "retry 250ms"])
        XCTAssertEqual(p.counts, "servers=0 connecting=0 checking=0 idle=0 active=0 draining=0 closing=0 waiting=1")
        XCTAssertEqual(p.machine.stats.serversClosed, 2)
        XCTAssertEqual(p.machine.stats.connectFailures, 1)
    }

    func testClientLeavingWhileWaitingOrLinked() {
        var p = Script { $0.poolSize = 1 }
        _ = p.checkout(1); _ = p.checkout(2); _ = p.checkout(3)
        XCTAssertEqual(p.left(2), [])
        XCTAssertEqual(p.machine.waitingCount, 2)
        XCTAssertEqual(p.connected(1), ["adopt s1", "link c1 s1 waited=0ms"])
        XCTAssertEqual(p.left(1), [])  // its server is rolled back / reset
        XCTAssertEqual(p.counts, "servers=1 connecting=0 checking=0 idle=0 active=0 draining=1 closing=0 waiting=1")
        XCTAssertEqual(p.released(1), ["link c3 s1 waited=0ms"])
        XCTAssertEqual(p.left(9), [])  // never known
    }

    func testLoginFailureBacksOffAndNonRetryableFailsAllWaiters() {
        var p = Script { $0.poolSize = 1; $0.serverLoginRetry = 0.4 }
        XCTAssertEqual(p.parameters(1), ["wait c1 120s", "connect s1"])
        XCTAssertEqual(p.loginFailed(1, jitter: 0.75), ["logFailure s1", "retry 187ms"])
        XCTAssertEqual(p.checkout(5), ["wait c5 120s"])  // backing off: nothing opens
        XCTAssertEqual(p.retryFired(), ["connect s2"])
        XCTAssertEqual(p.loginFailed(2), ["logFailure s2", "retry 400ms"])  // 0.5 s capped at server_login_retry
        XCTAssertEqual(p.machine.consecutiveFailures, 2)
        XCTAssertEqual(p.retryFired(), ["connect s3"])
        let actions = p.machine.serverLoginFailed(p.id(3), failure: ServerLoginFailure(code: SQLState.invalidPassword, message: "password authentication failed", retryable: false),
                                                  retryJitter: 1, now: p.now, userServers: p.userServers)
        XCTAssertEqual(p.text(actions), ["logFailure s3", "fail c5,c1 08006 server_login_failed"])
        guard case .failWaiters(_, let error, _)? = Array(actions).last else { return XCTFail() }
        XCTAssertEqual(error.message, "server login to database \"app\" failed: password authentication failed")
        XCTAssertEqual(error.fields.detail, "upstream SQLSTATE \(SQLState.invalidPassword)")
        XCTAssertEqual(p.counts, "servers=0 connecting=0 checking=0 idle=0 active=0 draining=0 closing=0 waiting=0")
        XCTAssertEqual(p.machine.stats.connectFailures, 3)
        // A retryable failure with nobody waiting schedules nothing; a success resets the count.
        XCTAssertEqual(p.janitor(), [])  // min_pool_size 0
        _ = p.checkout(6)
        XCTAssertEqual(p.left(6), [])
        XCTAssertEqual(p.loginFailed(4), ["logFailure s4"])
        _ = p.checkout(7)
        XCTAssertEqual(p.connected(5), ["adopt s5", "link c7 s5 waited=0ms"])
        XCTAssertEqual(p.machine.consecutiveFailures, 0)
        XCTAssertNil(p.machine.lastConnectFailure)
    }

    func testWaitTimeoutErrorSaysWhy() {
        var p = Script { $0.poolSize = 1 }
        _ = p.checkout(1); _ = p.connected(1); _ = p.checkout(2)
        var actions = Array(p.machine.waitTimedOut(ClientID(2)))
        guard case .closeClient(_, let error, "query_wait_timeout") = actions.removeFirst() else { return XCTFail() }
        XCTAssertEqual(error.code, SQLState.protocolViolation)
        XCTAssertEqual(error.message, "query_wait_timeout: no server connection of database \"app\" became free within 120 s (pool_size=1)")
        XCTAssertEqual(p.machine.waitingCount, 0)
        XCTAssertEqual(p.machine.stats.queueTimeouts, 1)
        _ = p.closed(1)
        _ = p.checkout(3)
        _ = p.loginFailed(2)
        actions = Array(p.machine.waitTimedOut(ClientID(3)))
        guard case .closeClient(_, let error2, _) = actions.removeFirst() else { return XCTFail() }
        XCTAssertEqual(error2.code, SQLState.connectionFailure)
        XCTAssertEqual(error2.message, "could not connect to the server of database \"app\" within query_wait_timeout (120 s): the database system is starting up")
    }

    func testParametersWaitForTheFirstLogin() {
        var p = Script()
        XCTAssertEqual(p.parameters(1), ["wait c1 120s", "connect s1"])
        XCTAssertEqual(p.parameters(2), ["wait c2 120s"])  // one server is enough to learn them
        XCTAssertEqual(p.left(2), [])
        XCTAssertEqual(p.connected(1), ["adopt s1", "parameters c1"])
        XCTAssertEqual(p.parameters(3), ["parameters c3"])
        XCTAssertEqual(p.text(p.machine.parametersLearned()), [])  // already known
        var q = Script()
        _ = q.parameters(1)
        XCTAssertEqual(q.text(q.machine.parametersLearned()), ["parameters c1"])  // another worker learnt them
    }

    func testPauseResumeKill() {
        var p = Script()
        _ = p.checkout(1); _ = p.checkout(2); _ = p.connected(1); _ = p.connected(2)
        _ = p.released(2)
        XCTAssertEqual(p.text(p.machine.pauseRequested()), ["close s2 paused"])
        XCTAssertEqual(p.closed(2), [])  // paused: nothing opens
        XCTAssertEqual(p.checkout(3), ["wait c3 120s"])
        XCTAssertEqual(p.released(1), ["close s1 paused"])
        XCTAssertEqual(p.closed(1), [])
        XCTAssertEqual(p.counts, "servers=0 connecting=0 checking=0 idle=0 active=0 draining=0 closing=0 waiting=1")
        XCTAssertEqual(p.resume(), ["connect s3"])
        XCTAssertEqual(p.connected(3), ["link c3 s3 waited=0ms"])
        _ = p.checkout(4)
        XCTAssertEqual(p.text(p.machine.killRequested()), ["close s3 killed", "close s4 killed"])
        XCTAssertEqual(p.text(p.machine.killRequested()), [])  // already closing
        XCTAssertEqual(p.closed(3), [])  // s4 still counts as closing, not as capacity
        XCTAssertEqual(p.loginFailed(4, code: SQLState.connectionFailure), ["logFailure s4", "retry 250ms"])
        XCTAssertEqual(p.retryFired(), ["connect s5"])
        XCTAssertEqual(p.counts, "servers=1 connecting=1 checking=0 idle=0 active=0 draining=0 closing=0 waiting=1")
    }

    func testLendsWithoutQueueing() {
        var p = Script()  // pool_size 2
        XCTAssertTrue(p.machine.lendsWithoutQueueing, "room to open a server")
        _ = p.checkout(1); _ = p.connected(1)
        XCTAssertTrue(p.machine.lendsWithoutQueueing)
        _ = p.checkout(2); _ = p.connected(2)
        XCTAssertFalse(p.machine.lendsWithoutQueueing, "every server lent, none may open")
        _ = p.released(2)
        XCTAssertTrue(p.machine.lendsWithoutQueueing, "an idle server")
        _ = p.checkout(3)
        _ = p.checkout(4)
        XCTAssertFalse(p.machine.lendsWithoutQueueing, "a client is waiting")
        _ = p.released(1)  // to c4, who waited
        XCTAssertFalse(p.machine.lendsWithoutQueueing)
        _ = p.released(1)
        XCTAssertTrue(p.machine.lendsWithoutQueueing)
        _ = p.machine.pauseRequested()
        XCTAssertFalse(p.machine.lendsWithoutQueueing, "paused")
        _ = p.resume()
        var cold = Script()
        _ = cold.checkout(1)
        _ = cold.loginFailed(1)
        _ = cold.left(1)
        XCTAssertFalse(cold.machine.lendsWithoutQueueing, "logins fail: a checkout would wait for the upstream")
    }

    func testRetiredAndSettingsChanged() {
        var p = Script()
        _ = p.checkout(1); _ = p.checkout(2); _ = p.connected(1); _ = p.connected(2)
        _ = p.released(2)
        XCTAssertEqual(p.text(p.machine.databaseRemoved()), ["close s2 database_removed"])
        XCTAssertEqual(p.released(1), ["close s1 database_removed"])
        _ = p.closed(1); _ = p.closed(2)
        _ = p.checkout(3)
        var settings = p.machine.settings
        settings.url = UpstreamURL(host: "127.0.0.2", user: "app", database: "app")
        XCTAssertEqual(p.text(p.machine.settingsChanged(settings, now: p.now, userServers: p.userServers)), ["connect s3"])
        XCTAssertEqual(p.connected(3), ["link c3 s3 waited=0ms"])
        _ = p.released(3)
        settings.url = UpstreamURL(host: "127.0.0.3", user: "app", database: "app")
        XCTAssertEqual(p.text(p.machine.settingsChanged(settings, now: p.now, userServers: p.userServers)), ["close s3 config_changed"])
    }

    func testSSLModeAllowFallsBackToTLSOnce() {
        var p = Script { $0.url = UpstreamURL(host: "127.0.0.1", user: "app", database: "app", sslMode: .allow) }
        _ = p.checkout(1)
        XCTAssertEqual(p.loginFailed(1, code: SQLState.invalidAuthorizationSpecification, retryable: false), ["connect s2"])
        XCTAssertTrue(p.machine.allowNeedsTLS)
        XCTAssertEqual(p.machine.stats.connectFailures, 0)
        XCTAssertEqual(p.loginFailed(2, code: SQLState.invalidAuthorizationSpecification, retryable: false),
                       ["logFailure s2", "fail c1 08006 server_login_failed"])
    }

    func testActionsKeepOrderInlineAndInAnArray() {
        var actions = PoolStateMachine.Actions()
        XCTAssertTrue(actions.isEmpty)
        XCTAssertEqual(Array(actions).count, 0)
        for n in 1...5 {
            actions.append(.connectServer(ServerID(number: UInt64(n), slot: n - 1)))
            XCTAssertEqual(actions.count, n)
            XCTAssertEqual(Script().text(actions), (1...n).map { "connect s\($0)" })
        }
        var more: PoolStateMachine.Actions = [.checkServer(ServerID(number: 9, slot: 0))]
        more.append(contentsOf: actions)
        XCTAssertEqual(Script().text(more), ["check s9", "connect s1", "connect s2", "connect s3", "connect s4", "connect s5"])
    }

    func testServerSlotsAreReusedAndStaleIDsFindNothing() {
        var p = Script { $0.poolSize = 3 }
        _ = p.checkout(1); _ = p.checkout(2); _ = p.checkout(3)
        XCTAssertEqual([p.id(1).slot, p.id(2).slot, p.id(3).slot], [0, 1, 2])
        let second = p.id(2)
        _ = p.connected(2)
        XCTAssertEqual(p.machine.state(of: second), .linked(ClientID(1)))
        // c1 leaves holding s2, which is then lost: s2 is forgotten and its slot is free.
        XCTAssertEqual(p.left(1), [])
        XCTAssertEqual(p.machine.state(of: second), .draining)
        XCTAssertEqual(p.closed(2), [])
        XCTAssertNil(p.machine.state(of: second))
        XCTAssertEqual(p.machine.servers.count, 2)
        // The next server takes slot 1 under a new number; the old id does not find it.
        XCTAssertEqual(p.checkout(4), ["wait c4 120s", "connect s4"])
        XCTAssertEqual(p.id(4).slot, 1)
        XCTAssertNil(p.machine.state(of: second))
        XCTAssertEqual(p.machine.state(of: p.id(4)), .connecting)
        XCTAssertEqual(p.machine.servers.ids.map(\.number), [1, 3, 4])
        XCTAssertEqual(p.counts, "servers=3 connecting=3 checking=0 idle=0 active=0 draining=0 closing=0 waiting=3")
    }

    /// `checkoutFromIdle` and `releasedToIdle` (what `Pool` tries first on every transaction)
    /// decide only the plain cases, and change nothing when they decline.
    func testCommonCheckoutAndReleaseDecideOnlyThePlainCases() {
        var p = Script { $0.poolSize = 1; $0.serverCheckDelay = 30 }
        XCTAssertNil(p.machine.checkoutFromIdle(ClientID(1), now: p.now))  // no server yet
        XCTAssertEqual(p.checkout(1), ["wait c1 120s", "connect s1"])
        XCTAssertEqual(p.connected(1), ["adopt s1", "link c1 s1 waited=0ms"])
        let s1 = p.id(1)
        // Released with nobody waiting: back to idle, no actions.
        XCTAssertTrue(p.machine.releasedToIdle(s1, now: p.now))
        XCTAssertFalse(p.machine.releasedToIdle(s1, now: p.now))  // idle already: declined, unchanged
        XCTAssertEqual(p.counts, "servers=1 connecting=0 checking=0 idle=1 active=0 draining=0 closing=0 waiting=0")
        // Checkout of a fresh idle server: linked, counted as the general event counts it.
        XCTAssertEqual(p.machine.checkoutFromIdle(ClientID(2), now: p.now), s1)
        XCTAssertEqual(p.machine.state(of: s1), .linked(ClientID(2)))
        XCTAssertEqual(p.machine.stats.checkoutRequests, 2)
        XCTAssertEqual(p.machine.stats.checkouts, 2)
        // Someone waits: the release is not plain (it goes to the waiter).
        XCTAssertEqual(p.checkout(3), ["wait c3 120s"])
        XCTAssertFalse(p.machine.releasedToIdle(s1, now: p.now))
        XCTAssertEqual(p.machine.state(of: s1), .linked(ClientID(2)))
        XCTAssertEqual(p.released(1), ["link c3 s1 waited=0ms"])
        XCTAssertEqual(p.released(1), [])
        // Idle past server_check_delay: the checkout is not plain (the server is checked first).
        p.advance(seconds: 31)
        XCTAssertNil(p.machine.checkoutFromIdle(ClientID(4), now: p.now))
        XCTAssertEqual(p.machine.state(of: s1), .idle(since: p.now - 31_000))
        XCTAssertEqual(p.checkout(4), ["check s1", "wait c4 120s"])
        XCTAssertEqual(p.checked(1, ok: true), ["link c4 s1 waited=0ms"])
        // Paused: neither is plain.
        _ = p.machine.pauseRequested()
        XCTAssertFalse(p.machine.releasedToIdle(s1, now: p.now))
        XCTAssertEqual(p.released(1), ["close s1 paused"])
        // Past its lifetime: the release closes it.
        var q = Script { $0.serverLifetime = 10 }
        _ = q.checkout(1)
        _ = q.connected(1)
        q.advance(seconds: 11)
        XCTAssertFalse(q.machine.releasedToIdle(q.id(1), now: q.now))
        XCTAssertEqual(q.released(1), ["close s1 lifetime"])
    }

    /// An outage while clients wait: retries every 0.5 s at most (not server_login_retry), one
    /// probe at a time; waiters are told after cold_start_notice_after, once; the first login that
    /// succeeds opens servers for the other waiters at once.
    func testColdStartRetriesFastProbesOneAtATimeAndTellsWaiters() {
        var p = Script { $0.poolSize = 3; $0.serverLoginRetry = 15; $0.coldStartNoticeAfter = 5 }
        _ = p.checkout(1)
        XCTAssertEqual(p.connected(1), ["adopt s1", "link c1 s1 waited=0ms"])
        XCTAssertTrue(p.machine.openedCold(p.id(1)), "the pool's first server is a cold start")
        XCTAssertEqual(p.closed(1), [])  // the upstream goes away under it
        XCTAssertEqual(p.checkout(2), ["wait c2 120s", "connect s2"])
        XCTAssertEqual(p.checkout(3), ["wait c3 120s", "connect s3"])
        XCTAssertEqual(p.loginFailed(2), ["logFailure s2", "retry 250ms"])
        XCTAssertEqual(p.loginFailed(3), ["logFailure s3", "retry 500ms"])
        for n: UInt64 in 4...8 {  // one probe per retry, and the pause stays at 0.5 s
            p.advance(seconds: 0.5)
            XCTAssertEqual(p.checkout(100 + n), ["wait c\(100 + n) 120s"], "backing off: nothing opens")
            XCTAssertEqual(p.retryFired(), ["connect s\(n)"])
            XCTAssertEqual(p.counts.hasPrefix("servers=1 connecting=1"), true, p.counts)
            XCTAssertTrue(p.machine.openedCold(p.id(n)), "opened after a failed login: cold")
            XCTAssertEqual(p.loginFailed(n), ["logFailure s\(n)", "retry 500ms"])
        }
        // c2 and c3 have waited 2.5 s: no notice yet; at 5 s each waiter gets one, once.
        XCTAssertEqual(p.janitor(), [])
        p.advance(seconds: 2.5)
        XCTAssertEqual(p.janitor(), ["notice c2 5s", "notice c3 5s"])
        p.advance(seconds: 2)
        XCTAssertEqual(p.janitor(), ["notice c104 6s", "notice c105 6s", "notice c106 5s", "notice c107 5s"])  // c108: 4.5 s
        XCTAssertEqual(p.janitor(), [])
        // The upstream is back: the probe logs in, goes to the longest waiter, and the others get
        // servers opened at once (pool_size 3), not one per retry.
        XCTAssertEqual(p.retryFired(), ["connect s9"])
        XCTAssertTrue(p.machine.openedCold(p.id(9)))
        XCTAssertEqual(p.connected(9), ["link c2 s9 waited=7000ms", "connect s10", "connect s11"])
        XCTAssertFalse(p.machine.openedCold(p.id(10)), "opened with a server logged in and no failure: warm")
        XCTAssertEqual(p.machine.consecutiveFailures, 0)
        XCTAssertEqual(p.janitor(), [], "the upstream is ready: waiters for a busy pool get no notice")
    }

    /// With nobody waiting, min_pool_size retries after failed logins with the backoff of
    /// server_login_retry, one probe at a time.
    func testMinPoolSizeRetriesWithBackoffWhenNobodyWaits() {
        var p = Script { $0.minPoolSize = 1; $0.serverLoginRetry = 2 }
        XCTAssertEqual(p.janitor(), ["connect s1"])
        XCTAssertEqual(p.loginFailed(1), ["logFailure s1"])  // nobody waits: no retry timer
        XCTAssertEqual(p.janitor(), [], "0.25 s have not passed")
        p.advance(seconds: 1)
        XCTAssertEqual(p.janitor(), ["connect s2"])
        XCTAssertEqual(p.janitor(), [], "one probe at a time")
        XCTAssertEqual(p.loginFailed(2), ["logFailure s2"])
        for (seconds, opens) in [(0.4, false), (0.2, true)] {  // 0.5 s after the second failure
            p.advance(seconds: seconds)
            XCTAssertEqual(p.janitor().isEmpty, !opens)
        }
        XCTAssertEqual(p.loginFailed(3), ["logFailure s3"])
        XCTAssertEqual(p.machine.retryDelay(clientsWait: false), 1)
        p.advance(seconds: 1)
        XCTAssertEqual(p.janitor(), ["connect s4"])
        XCTAssertEqual(p.loginFailed(4), ["logFailure s4"])
        XCTAssertEqual(p.machine.retryDelay(clientsWait: false), 2, "capped at server_login_retry")
        XCTAssertEqual(p.machine.retryDelay(clientsWait: true), 0.5)
    }
}
