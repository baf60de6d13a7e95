// ShowVersion: `SHOW VERSION` — one row, one column: the running Sluice's version string.
import SluiceCore

/// `version` = `Sluice 0.1.0` (the snapshot's version, prefixed with `Sluice` if it lacks it).
final class ShowVersion: AdminCommand {
    let name = "SHOW VERSION"
    let requiresAdmin = false

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        let version = snapshot.version.hasPrefix("Sluice") ? snapshot.version : "Sluice \(snapshot.version)"
        var result = ResultSet([.text("version")])
        result.append([.text(version)])
        return .rows(result)
    }
}
