// Reload: `RELOAD` — re-read the config file, like SIGHUP.
import SluiceCore

/// Admin only. Replies `RELOAD` and asks the runtime for `.reload`; a bad file is reported in the log
/// and the running configuration stays.
final class Reload: AdminCommand {
    let name = "RELOAD"
    let requiresAdmin = true

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        return .completed(tag: "RELOAD", action: .reload)
    }
}
