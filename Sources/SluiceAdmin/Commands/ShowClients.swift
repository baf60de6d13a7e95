// ShowClients: `SHOW CLIENTS` — one row per client connection, admin console sessions included.
import SluiceCore

/// Rows in connection order. `state` is Sluice's: `active` (running on a server), `idle_in_transaction`
/// (holding a server inside a transaction), `idle`, `waiting`, `login`. `link` is the `ptr` of the
/// server it holds; `remote_pid` is 0 (TCP peers have no known pid, as in PgBouncer). `last_query`, after
/// the shared socket columns, is the first 200 characters of its last statement with `log_leak_queries = true`
/// (empty otherwise), as in `SHOW LEAKS`; `pinned` names the session state that pins it to its server
/// (`temp_table`, `advisory_lock`, `cursor_with_hold`, `sql_prepare`, `set_role`, `set_config`, `listen`).
final class ShowClients: AdminCommand {
    let name = "SHOW CLIENTS"
    let requiresAdmin = false

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        let local = SocketRows.clientLocalAddress(snapshot)
        let showQueries = snapshot.config.logLeakQueries
        var result = ResultSet(SocketRows.columns + [.text("last_query"), .text("pinned")])
        for client in snapshot.clients.sorted(by: { $0.id < $1.id }) {
            let row = SocketRows.Row(
                type: "C", user: client.user, database: client.database, state: client.state,
                address: client.address, port: client.port, local: local,
                connectedAt: client.connectedAt, requestAt: client.requestAt, waitSeconds: client.waitSeconds,
                pointer: socketPointer(client.id), link: client.serverID.map(socketPointer) ?? "",
                remotePID: 0, tls: client.tls, applicationName: client.applicationName,
                heldSeconds: client.heldSeconds, transactionStatus: client.transactionStatus)
            result.append(row.values + [.text(showQueries ? (client.lastQuery ?? "") : ""), .text(client.pinned)])
        }
        return .rows(result)
    }
}
