// ShowPools: `SHOW POOLS` — one row per pool: clients and servers by state, longest wait, mode.
import SluiceCore

/// PgBouncer 1.18's `SHOW POOLS` columns, then Sluice's `cl_idle`, `cl_idle_in_transaction`, `pool_size`.
///
/// `cl_active` counts clients linked to a server (PgBouncer's documented meaning), including those
/// idle inside a transaction, which `cl_idle_in_transaction` counts again on their own. `cl_idle`
/// counts logged-in clients without a server. Sluice forwards cancel requests at once, so the
/// four cancel columns are always 0.
final class ShowPools: AdminCommand {
    let name = "SHOW POOLS"
    let requiresAdmin = false

    static let columns: [Column] = [
        .text("database"), .text("user"),
        .int4("cl_active"), .int4("cl_waiting"), .int4("cl_active_cancel_req"), .int4("cl_waiting_cancel_req"),
        .int4("sv_active"), .int4("sv_active_cancel"), .int4("sv_being_canceled"),
        .int4("sv_idle"), .int4("sv_used"), .int4("sv_tested"), .int4("sv_login"),
        .int4("maxwait"), .int4("maxwait_us"), .text("pool_mode"),
        .int4("cl_idle"), .int4("cl_idle_in_transaction"), .int4("pool_size"),
    ]

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        var result = ResultSet(Self.columns)
        for pool in snapshot.pools.sorted(by: { $0.database < $1.database }) {
            let maxWait = splitSeconds(pool.maxWaitSeconds)
            result.append([
                .text(pool.database), .text(pool.upstreamUser),
                .int(pool.clientsActive + pool.clientsIdleInTransaction), .int(pool.clientsWaiting), .int(0), .int(0),
                .int(pool.serversActive), .int(0), .int(0),
                .int(pool.serversIdle), .int(pool.serversUsed), .int(pool.serversTested), .int(pool.serversLogin),
                .int(maxWait.seconds), .int(maxWait.microseconds), .text(pool.mode.rawValue),
                .int(pool.clientsIdle), .int(pool.clientsIdleInTransaction), .int(pool.poolSize),
            ])
        }
        return .rows(result)
    }
}
