// AdminCommand: what every console command is (its name, the privilege it needs, how it runs).
import PostgresWire
import SluiceCore

/// One console command, e.g. `SHOW POOLS` or `PAUSE`. Commands read the snapshot; they never reach into pools.
protocol AdminCommand: AnyObject {
    /// The command as written in messages (`SHOW POOLS`, `PAUSE`).
    var name: String { get }
    /// Whether a `stats_users` session is refused (actions need `admin_users`).
    var requiresAdmin: Bool { get }
    /// Runs with the words after the command name (quotes removed).
    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome
}

/// What one statement produced.
enum CommandOutcome {
    /// Rows for the client: RowDescription, DataRows, CommandComplete `SHOW`.
    case rows(ResultSet)
    /// CommandComplete with `tag`; the runtime then carries out `action` (if any).
    case completed(tag: String, action: AdminAction?)
    /// ErrorResponse with severity ERROR; later statements of the query are not run.
    case error(code: String, message: String)
}

extension CommandOutcome {
    /// 42601, for a command given arguments it does not take (or missing one it needs).
    static func syntaxError(_ message: String) -> CommandOutcome {
        .error(code: AdminSQLState.syntaxError, message: message)
    }

    /// Refuses any argument: `RELOAD x`, `SHOW POOLS x`.
    static func noArguments(_ command: AdminCommand, _ arguments: [String]) -> CommandOutcome? {
        arguments.isEmpty ? nil : syntaxError("admin console command \"\(command.name)\" takes no arguments")
    }
}

/// SQLSTATE codes the console needs that `PostgresWire.SQLState` does not name.
enum AdminSQLState {
    /// `syntax_error`: unknown command or wrong arguments.
    static let syntaxError = "42601"
}

/// Database names that reach the admin console instead of a pool (`DatabaseConfig.reservedNames`).
let adminDatabaseNames = ["pgbouncer", "sluice"]

extension ProxySnapshot {
    /// Whether `name` is a configured database (or still has a pool).
    func hasDatabase(_ name: String) -> Bool {
        config.databases[name] != nil || pools.contains { $0.database == name }
    }
}

/// The database argument of PAUSE/RESUME/KILL, checked: nil when fine, else the error to send.
func checkDatabaseArgument(_ name: String, command: String, snapshot: ProxySnapshot) -> CommandOutcome? {
    if adminDatabaseNames.contains(name) {
        return .error(code: SQLState.featureNotSupported,
                      message: "cannot \(command.lowercased()) the admin console database \"\(name)\"")
    }
    guard snapshot.hasDatabase(name) else {
        return .error(code: SQLState.invalidCatalogName, message: "no such database: \(name)")
    }
    return nil
}
