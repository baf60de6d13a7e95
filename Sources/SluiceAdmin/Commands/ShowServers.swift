// ShowServers: `SHOW SERVERS` — one row per upstream connection.
import SluiceCore

/// Rows by database, then connection order. `state` is `active`, `idle`, `used`, `tested` or `login`
/// (PgBouncer's `new`); `remote_pid` is the backend's process id; `link` is the `ptr` of the client
/// holding it, whose hold time and transaction status fill `held_for_s` and `tx_state`. `addr`/`port`
/// are the host the connection reached (of a multi-host URL); `role`, after the shared columns, is
/// `primary`, `standby` or `unknown`.
final class ShowServers: AdminCommand {
    let name = "SHOW SERVERS"
    let requiresAdmin = false

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        var clientsByID: [UInt64: ClientSnapshot] = [:]
        for client in snapshot.clients { clientsByID[client.id] = client }
        var result = ResultSet(SocketRows.columns + [.text("role")])
        let servers = snapshot.servers.sorted { ($0.database, $0.id) < ($1.database, $1.id) }
        for server in servers {
            let client = server.clientID.flatMap { clientsByID[$0] }
            let row = SocketRows.Row(
                type: "S", user: server.user, database: server.database, state: server.state,
                address: server.address, port: server.port, local: nil,
                connectedAt: server.connectedAt, requestAt: server.requestAt, waitSeconds: 0,
                pointer: socketPointer(server.id), link: server.clientID.map(socketPointer) ?? "",
                remotePID: Int(server.backendPID), tls: server.tls, applicationName: server.applicationName,
                heldSeconds: client?.heldSeconds, transactionStatus: client?.transactionStatus)
            result.append(row.values + [.text(server.role)])
        }
        return .rows(result)
    }
}
