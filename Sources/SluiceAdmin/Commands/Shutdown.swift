// Shutdown: `SHUTDOWN` — stop the process gracefully, like SIGTERM.
import SluiceCore

/// Admin only. Replies `SHUTDOWN` and asks the runtime for `.shutdown`: listeners close, linked
/// clients get up to `shutdown_timeout` to finish.
final class Shutdown: AdminCommand {
    let name = "SHUTDOWN"
    let requiresAdmin = true

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        return .completed(tag: "SHUTDOWN", action: .shutdown)
    }
}
