// ClientLimitBook: live client counts and failed-login windows behind the client limits, shared by all workers.
import Foundation
import PostgresWire
import SluiceConfig

/// The counts `max_client_conn`, `max_client_conn_per_address`, `max_db_client_connections`,
/// `max_user_client_connections` and `max_auth_failures` are checked against. One book serves every
/// worker loop, so a limit holds for the whole process whichever loop a client landed on.
///
/// Thread-safe (one lock). It is touched when a client connects, logs in, fails a login or
/// closes — never on the relay path.
final class ClientLimitBook: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    private var byAddress: [String: Int] = [:]
    private var byDatabase: [String: Int] = [:]
    private var byUser: [String: Int] = [:]
    /// Failed logins per client address in the current minute (monotonic milliseconds).
    private var authFailures: [String: (windowStart: UInt64, count: Int)] = [:]

    /// Clients counted in, on every worker.
    var clientCount: Int { lock.withLock { total } }

    /// Checks `max_client_conn`, the address limit and the failed-login throttle, and counts the
    /// client in when none refuses it. Returns the refusal and the limit's name otherwise.
    func admitConnection(host: String, exempt: Bool, config: SluiceConfig, now: UInt64) -> (ErrorResponse, String)? {
        lock.lock()
        defer { lock.unlock() }
        if total >= config.maxClientConn {
            return (ErrorResponse(severity: .fatal, code: SQLState.tooManyConnections,
                                  message: "no more connections allowed (max_client_conn=\(config.maxClientConn))"), "max_client_conn")
        }
        if !exempt {
            let perAddress = config.maxClientConnPerAddress
            if perAddress > 0, byAddress[host, default: 0] >= perAddress {
                return (ErrorResponse(severity: .fatal, code: SQLState.tooManyConnections,
                                      message: "too many connections from \(host) (max_client_conn_per_address=\(perAddress))"),
                        "max_client_conn_per_address")
            }
            if config.maxAuthFailures > 0, let record = authFailures[host], now &- record.windowStart < 60_000,
               record.count >= config.maxAuthFailures {
                return (ErrorResponse(severity: .fatal, code: SQLState.invalidAuthorizationSpecification,
                                      message: "too many failed logins from \(host) (max_auth_failures=\(config.maxAuthFailures) per minute); try again later"),
                        "max_auth_failures")
            }
        }
        total += 1
        byAddress[host, default: 0] += 1
        return nil
    }

    /// Per-database and per-user client limits; counts the client in when neither refuses.
    func admitLogin(database: String, user: String, databaseLimit: Int, userLimit: Int) -> (ErrorResponse, String)? {
        lock.lock()
        defer { lock.unlock() }
        if databaseLimit > 0, byDatabase[database, default: 0] >= databaseLimit {
            return (ErrorResponse(severity: .fatal, code: SQLState.tooManyConnections,
                                  message: "too many connections for database \"\(database)\" (max_db_client_connections=\(databaseLimit))"),
                    "max_db_client_connections")
        }
        if userLimit > 0, byUser[user, default: 0] >= userLimit {
            return (ErrorResponse(severity: .fatal, code: SQLState.tooManyConnections,
                                  message: "too many connections for user \"\(user)\" (max_user_client_connections=\(userLimit))"),
                    "max_user_client_connections")
        }
        byDatabase[database, default: 0] += 1
        byUser[user, default: 0] += 1
        return nil
    }

    /// A failed login from `host` (not exempt, `max_auth_failures` > 0).
    func recordAuthFailure(host: String, now: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        if var record = authFailures[host], now &- record.windowStart < 60_000 {
            record.count += 1
            authFailures[host] = record
        } else {
            if authFailures.count > 100_000 { authFailures.removeAll() }  // bounded memory
            authFailures[host] = (now, 1)
        }
    }

    /// A client counted in by `admitConnection` (and by `admitLogin` when `loggedIn`) is gone.
    func release(host: String, database: String, user: String, admitted: Bool) {
        lock.lock()
        defer { lock.unlock() }
        total -= 1
        Self.decrement(&byAddress, host)
        if admitted {
            Self.decrement(&byDatabase, database)
            Self.decrement(&byUser, user)
        }
    }

    private static func decrement(_ counts: inout [String: Int], _ key: String) {
        guard let n = counts[key] else { return }
        counts[key] = n <= 1 ? nil : n - 1
    }
}
