// Pause: `PAUSE [db]` — stop handing out servers (one database or all); servers close as they come back.
import SluiceCore

/// Admin only. Replies `PAUSE` and asks the runtime for `.pause(db)`; an unknown database is 3D000.
/// Pausing an already paused pooler is not an error (scripts may repeat it).
final class Pause: AdminCommand {
    let name = "PAUSE"
    let requiresAdmin = true

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        guard arguments.count <= 1 else { return .syntaxError("PAUSE takes at most one database name") }
        if let database = arguments.first {
            if let problem = checkDatabaseArgument(database, command: name, snapshot: snapshot) { return problem }
        }
        return .completed(tag: "PAUSE", action: .pause(arguments.first))
    }
}
