// ShowLeaks: `SHOW LEAKS` — clients holding a server longer than `leak_detection_threshold`.
import SluiceCore

/// Sluice's own command: one row per leak suspect, longest hold first. `last_query` (the first 200
/// characters of the client's last statement) is filled only with `log_leak_queries = true`.
final class ShowLeaks: AdminCommand {
    let name = "SHOW LEAKS"
    let requiresAdmin = false

    static let columns: [Column] = [
        .text("database"), .text("user"), .text("addr"), .int4("port"), .text("application_name"),
        .numeric("held_for_s"), .text("tx_state"), .text("state"), .text("last_query"),
    ]

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        let showQueries = snapshot.config.logLeakQueries
        var result = ResultSet(Self.columns)
        let suspects = snapshot.leakSuspects.sorted { ($0.heldSeconds ?? 0, $1.id) > ($1.heldSeconds ?? 0, $0.id) }
        for client in suspects {
            result.append([
                .text(client.database), .text(client.user), .text(client.address), .int(client.port),
                .text(client.applicationName), .decimal(client.heldSeconds ?? 0), .text(client.transactionStatus),
                .text(client.state), .text(showQueries ? (client.lastQuery ?? "") : ""),
            ])
        }
        return .rows(result)
    }
}
