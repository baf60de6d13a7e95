// HostSelection: which host of a multi-host upstream URL a new server connection tries next, as libpq does.
import SluiceConfig

/// What a logged-in server turned out to be (from its ParameterStatus `in_hot_standby` and
/// `default_transaction_read_only`, reported by PostgreSQL 14 and later).
public enum ServerRole: Equatable, Sendable, CustomStringConvertible {
    /// Not in recovery; `readOnly` when `default_transaction_read_only` is on.
    case primary(readOnly: Bool)
    case standby
    /// The server reports neither (PostgreSQL 13 or older).
    case unknown

    /// The role the reported parameters name.
    public init(parameters: [String: String]) {
        switch parameters["in_hot_standby"] {
        case "on"?: self = .standby
        case "off"?: self = .primary(readOnly: parameters["default_transaction_read_only"] == "on")
        default: self = .unknown
        }
    }

    public var description: String {
        switch self {
        case .primary(readOnly: false): return "primary"
        case .primary(readOnly: true): return "primary (read-only)"
        case .standby: return "standby"
        case .unknown: return "unknown"
        }
    }

    /// Short label for metrics and `SHOW SERVERS`: `primary`, `standby`, `unknown`.
    public var label: String {
        switch self {
        case .primary: return "primary"
        case .standby: return "standby"
        case .unknown: return "unknown"
        }
    }
}

/// The hosts one server connection tries, in libpq's order: the URL's order (or shuffled with
/// `load_balance_hosts=random`); a host that cannot be reached, or whose server is not what
/// `target_session_attrs` asks for, passes the turn to the next. `prefer-standby` makes two
/// passes: standbys only, then any server. A value; `ServerConnection` feeds it what happened.
struct HostSelection: Equatable {
    let hosts: [UpstreamHost]
    let attrs: TargetSessionAttrs
    private(set) var index = 0
    /// `prefer-standby`'s first pass, which accepts only standbys.
    private(set) var standbyPass: Bool
    /// What each host tried so far said, for the error when none fits.
    private(set) var tried: [String] = []
    /// A host was passed over for replication lag: the server this attempt ends with is a
    /// stand-in, replaced once the standby may have caught up (`ServerConnection.provisional`).
    private(set) var passedOverLagging = false

    /// What to do after a step.
    enum Verdict: Equatable {
        /// Keep this server.
        case accept
        /// Close it (if connected) and try this host.
        case tryHost(UpstreamHost)
        /// No host fits: fail the login with this message.
        case fail(String)
    }

    /// `order`: the hosts' indices in the order to try (the caller shuffles for `load_balance_hosts`).
    init(hosts: [UpstreamHost], attrs: TargetSessionAttrs, order: [Int]? = nil) {
        self.hosts = (order ?? Array(hosts.indices)).map { hosts[$0] }
        self.attrs = attrs
        self.standbyPass = attrs == .preferStandby
    }

    /// The host to try now.
    var current: UpstreamHost { hosts[index] }

    /// Whether a server of `role` is what this connection needs now.
    func fits(_ role: ServerRole) -> Bool {
        switch attrs {
        case .any: return true
        case .readWrite: return role == .primary(readOnly: false)
        case .readOnly: return role == .standby || role == .primary(readOnly: true)
        case .primary: if case .primary = role { return true }; return false
        case .standby: return role == .standby
        case .preferStandby: return standbyPass ? role == .standby : true
        }
    }

    /// The current host could not be reached or refused the login (`reason`).
    mutating func connectFailed(_ reason: String) -> Verdict {
        tried.append("\(current): \(reason)")
        return advance()
    }

    /// The current host's server logged in as `role`.
    mutating func loggedIn(as role: ServerRole) -> Verdict {
        if fits(role) { return .accept }
        if role == .unknown && attrs != .any {
            tried.append("\(current): does not report in_hot_standby (target_session_attrs needs PostgreSQL 14 or later)")
        } else {
            tried.append("\(current): is \(role)")
        }
        return advance()
    }

    /// The current host's server is a standby `seconds` behind, more than `max_replica_lag`.
    mutating func lagging(seconds: Double, limit: Double) -> Verdict {
        tried.append("\(current): is \(Self.format(seconds)) s behind (max_replica_lag \(Self.format(limit)) s)")
        passedOverLagging = true
        return advance()
    }

    static func format(_ seconds: Double) -> String {
        let rounded = (seconds * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    private mutating func advance() -> Verdict {
        if index + 1 < hosts.count {
            index += 1
            return .tryHost(current)
        }
        if standbyPass {
            // prefer-standby: no standby anywhere; any server will do.
            standbyPass = false
            index = 0
            return .tryHost(current)
        }
        let wanted = attrs == .any ? "reachable" : attrs.rawValue
        return .fail("no \(wanted) server among \(Set(hosts).count == 1 ? "the host" : "\(hosts.count) hosts") (\(tried.joined(separator: "; ")))")
    }
}
