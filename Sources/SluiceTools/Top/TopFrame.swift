// TopFrame: what one screen of `sluice top` shows — pools, clients holding servers, leak suspects, upstreams.

/// One refresh of `sluice top`, read from the admin console (and `/metrics` when reachable). A value:
/// `TopScreen` turns it into lines; `TopSource` fills it.
public struct TopFrame: Sendable, Equatable {
    /// Where the console was reached (`127.0.0.1:6432`).
    public var endpoint: String
    /// Wall-clock time of the refresh, `HH:MM:SS`.
    public var clock: String
    /// `/metrics` URL read for the latency figures; nil when none is read.
    public var metricsURL: String?
    /// Why `/metrics` could not be read this time (the latency columns then show `-`).
    public var metricsProblem: String?
    /// Why the console could not be read this time (the rest of the frame is the last good one).
    public var problem: String?
    /// `leak_detection_threshold` in seconds (0: off), from `SHOW CONFIG`.
    public var leakThresholdSeconds: Double?
    /// Clients refused by a connection limit since start (`sluice_limit_refusals_total`), from `/metrics`.
    public var limitRefusals: Int?
    public var pools: [Pool]
    /// Clients holding a server, longest hold first.
    public var holders: [Holder]
    /// `SHOW LEAKS`: clients holding a server longer than `leak_detection_threshold`.
    public var leaks: [Holder]
    public var upstreams: [Upstream]

    public init(endpoint: String, clock: String, metricsURL: String? = nil, metricsProblem: String? = nil,
                problem: String? = nil, leakThresholdSeconds: Double? = nil, limitRefusals: Int? = nil,
                pools: [Pool] = [], holders: [Holder] = [], leaks: [Holder] = [], upstreams: [Upstream] = []) {
        self.endpoint = endpoint
        self.clock = clock
        self.metricsURL = metricsURL
        self.metricsProblem = metricsProblem
        self.problem = problem
        self.leakThresholdSeconds = leakThresholdSeconds
        self.limitRefusals = limitRefusals
        self.pools = pools
        self.holders = holders
        self.leaks = leaks
        self.upstreams = upstreams
    }

    /// One row of `SHOW POOLS`, plus the wait p99 computed from `sluice_pool_wait_seconds`.
    public struct Pool: Sendable, Equatable {
        public var database: String
        public var mode: String
        public var clientsActive: Int
        public var clientsIdle: Int
        public var clientsWaiting: Int
        /// Seconds the oldest waiting client has waited (`maxwait` + `maxwait_us`).
        public var maxWaitSeconds: Double
        /// 99th percentile of the pool wait over the last refreshes (nil: no figure, e.g. no /metrics).
        public var waitP99Seconds: Double?
        public var serversActive: Int
        public var serversIdle: Int
        public var serversUsed: Int
        public var serversTested: Int
        public var serversLogin: Int
        public var poolSize: Int

        public init(database: String, mode: String, clientsActive: Int, clientsIdle: Int, clientsWaiting: Int,
                    maxWaitSeconds: Double, waitP99Seconds: Double?, serversActive: Int, serversIdle: Int,
                    serversUsed: Int, serversTested: Int, serversLogin: Int, poolSize: Int) {
            self.database = database
            self.mode = mode
            self.clientsActive = clientsActive
            self.clientsIdle = clientsIdle
            self.clientsWaiting = clientsWaiting
            self.maxWaitSeconds = maxWaitSeconds
            self.waitP99Seconds = waitP99Seconds
            self.serversActive = serversActive
            self.serversIdle = serversIdle
            self.serversUsed = serversUsed
            self.serversTested = serversTested
            self.serversLogin = serversLogin
            self.poolSize = poolSize
        }
    }

    /// A client holding a server (`SHOW CLIENTS` with a `link`, or a `SHOW LEAKS` row).
    public struct Holder: Sendable, Equatable {
        public var database: String
        public var user: String
        public var applicationName: String
        public var address: String
        public var port: Int
        public var heldSeconds: Double
        /// `I`, `T` or `E`: the server's transaction status.
        public var transactionState: String
        /// The first 200 characters of its last statement, when `log_leak_queries` is on.
        public var lastQuery: String?

        public init(database: String, user: String, applicationName: String, address: String, port: Int,
                    heldSeconds: Double, transactionState: String, lastQuery: String?) {
            self.database = database
            self.user = user
            self.applicationName = applicationName
            self.address = address
            self.port = port
            self.heldSeconds = heldSeconds
            self.transactionState = transactionState
            self.lastQuery = lastQuery
        }
    }

    /// One database's upstream: how many servers are open and how connecting to it goes.
    public struct Upstream: Sendable, Equatable {
        public var database: String
        /// `host:port` of the upstream (`SHOW DATABASES`).
        public var address: String
        /// Servers logged in (active, idle, used, tested).
        public var serversOpen: Int
        /// Servers connecting or logging in.
        public var serversConnecting: Int
        /// Mean and 99th percentile of `sluice_upstream_connect_seconds` since start.
        public var connectMeanSeconds: Double?
        public var connectP99Seconds: Double?
        /// `sluice_server_connect_failures_total`: connects or logins the upstream refused or failed.
        public var connectFailures: Int?
        /// `sluice_queue_timeouts_total`: clients refused after waiting `query_wait_timeout`.
        public var queueTimeouts: Int?

        /// `warm` (servers open), `starting` (only logins in progress: a cold start) or `cold` (none open).
        public var temperature: String {
            serversOpen > 0 ? "warm" : serversConnecting > 0 ? "starting" : "cold"
        }

        public init(database: String, address: String, serversOpen: Int, serversConnecting: Int,
                    connectMeanSeconds: Double? = nil, connectP99Seconds: Double? = nil,
                    connectFailures: Int? = nil, queueTimeouts: Int? = nil) {
            self.database = database
            self.address = address
            self.serversOpen = serversOpen
            self.serversConnecting = serversConnecting
            self.connectMeanSeconds = connectMeanSeconds
            self.connectP99Seconds = connectP99Seconds
            self.connectFailures = connectFailures
            self.queueTimeouts = queueTimeouts
        }
    }
}
