// Resume: `RESUME [db]` — hand out servers again after PAUSE (one database or all).
import SluiceCore

/// Admin only. Replies `RESUME` and asks the runtime for `.resume(db)`; an unknown database is 3D000.
final class Resume: AdminCommand {
    let name = "RESUME"
    let requiresAdmin = true

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        guard arguments.count <= 1 else { return .syntaxError("RESUME takes at most one database name") }
        if let database = arguments.first {
            if let problem = checkDatabaseArgument(database, command: name, snapshot: snapshot) { return problem }
        }
        return .completed(tag: "RESUME", action: .resume(arguments.first))
    }
}
