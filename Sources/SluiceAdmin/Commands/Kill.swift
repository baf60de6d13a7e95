// Kill: `KILL db` — close every client and server connection of one database now.
import SluiceCore

/// Admin only. Replies `KILL` and asks the runtime for `.kill(db)`; without a database it is 42601,
/// with an unknown one 3D000.
final class Kill: AdminCommand {
    let name = "KILL"
    let requiresAdmin = true

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        guard arguments.count == 1, let database = arguments.first else {
            return .syntaxError("KILL needs exactly one database name: KILL <db>")
        }
        if let problem = checkDatabaseArgument(database, command: name, snapshot: snapshot) { return problem }
        return .completed(tag: "KILL", action: .kill(database))
    }
}
