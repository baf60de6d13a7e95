// AdminConsoleHandler: the PgBouncer-compatible admin console — parses a query, checks privilege, runs commands.
import Foundation
import PostgresWire
import SluiceCore

/// Runs admin console queries (`SHOW POOLS; SHOW STATS`, `PAUSE app`…) against a snapshot.
///
/// Statements are separated by `;` and run in order; an error stops the rest, as in PostgreSQL.
/// One reply carries at most one action: a second action command in the same query is refused.
/// One handler serves every worker's console sessions: `execute` is serialized by a lock, the only
/// state it keeps being `SHOW STATS`'s previous totals.
public final class AdminConsoleHandler: AdminConsole, @unchecked Sendable {
    private let lock = NSLock()
    /// `SHOW <word>` commands by their upper-cased word.
    private let showCommands: [String: AdminCommand]
    /// Other commands by their upper-cased first word.
    private let commands: [String: AdminCommand]

    public init() {
        let show: [AdminCommand] = [
            ShowPools(), ShowClients(), ShowServers(), ShowStats(), ShowDatabases(), ShowConfig(),
            ShowLists(), ShowVersion(), ShowLeaks(), ShowHelp(),
        ]
        showCommands = Dictionary(uniqueKeysWithValues: show.map { (String($0.name.dropFirst("SHOW ".count)), $0) })
        let others: [AdminCommand] = [Pause(), Resume(), Reload(), Kill(), KillClient(), Shutdown()]
        commands = Dictionary(uniqueKeysWithValues: others.map { ($0.name, $0) })
    }

    public func execute(query: String, privilege: AdminPrivilege, snapshot: ProxySnapshot) -> AdminReply {
        lock.lock()
        defer { lock.unlock() }
        var writer = MessageWriter()
        let statements = StatementParser.statements(in: query)
        guard !statements.isEmpty else {
            writer.write(EmptyQueryResponse())
            return AdminReply(bytes: writer.bytes)
        }
        var action: AdminAction?
        for statement in statements {
            let outcome = run(statement, privilege: privilege, snapshot: snapshot, hasAction: action != nil)
            switch outcome {
            case .rows(let result):
                result.encode(into: &writer)
                continue
            case .completed(let tag, let statementAction):
                writer.write(CommandComplete(tag: tag))
                if let statementAction { action = statementAction }
                continue
            case .error(let code, let message):
                writer.write(ErrorResponse(severity: .error, code: code, message: message))
            }
            break
        }
        return AdminReply(bytes: writer.bytes, action: action)
    }

    /// Finds the command, checks privilege and the one-action rule, and runs it.
    private func run(_ statement: Statement, privilege: AdminPrivilege, snapshot: ProxySnapshot,
                     hasAction: Bool) -> CommandOutcome {
        guard let (command, arguments) = lookup(statement.words) else {
            return .syntaxError("unknown admin console command: \(statement.text)")
        }
        if command.requiresAdmin && privilege != .admin {
            return .error(code: SQLState.insufficientPrivilege,
                          message: "admin console command \"\(command.name)\" requires admin privilege (user not in admin_users)")
        }
        if command.requiresAdmin && hasAction {
            return .error(code: SQLState.featureNotSupported,
                          message: "only one action command per query; send \"\(command.name)\" as a query of its own")
        }
        return command.run(arguments: arguments, snapshot: snapshot)
    }

    private func lookup(_ words: [String]) -> (AdminCommand, [String])? {
        guard let verb = words.first?.uppercased() else { return nil }
        if verb == "SHOW" {
            guard words.count >= 2, let command = showCommands[words[1].uppercased()] else { return nil }
            return (command, Array(words.dropFirst(2)))
        }
        guard let command = commands[verb] else { return nil }
        return (command, Array(words.dropFirst()))
    }
}
