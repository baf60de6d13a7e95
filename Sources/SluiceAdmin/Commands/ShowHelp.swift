// ShowHelp: `SHOW HELP` — the commands this console understands, one per row.
import SluiceCore

/// A plain result (column `command`) rather than PgBouncer's NOTICE, so every client shows it.
final class ShowHelp: AdminCommand {
    let name = "SHOW HELP"
    let requiresAdmin = false

    static let usage: [String] = [
        "SHOW HELP|POOLS|CLIENTS|SERVERS|STATS|DATABASES|CONFIG|LISTS|VERSION|LEAKS",
        "PAUSE [<db>]",
        "RESUME [<db>]",
        "RELOAD",
        "KILL <db>",
        "KILL_CLIENT <ptr>",
        "SHUTDOWN",
    ]

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        var result = ResultSet([.text("command")])
        for line in Self.usage { result.append([.text(line)]) }
        return .rows(result)
    }
}
