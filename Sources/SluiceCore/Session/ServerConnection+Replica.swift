// ServerConnection+Replica: a standby's replication lag (max_replica_lag), and a server whose role changes under it (failover).
import PostgresWire
import SluiceConfig

extension ServerConnection {
    /// Seconds a standby's data is behind: 0 when it has replayed all it received (or is not a
    /// standby), else the age of the last transaction it replayed. One float8 value.
    static let replicaLagQuery = """
        select (case when not pg_is_in_recovery() then 0 \
        when pg_last_wal_receive_lsn() is not distinct from pg_last_wal_replay_lsn() then 0 \
        else coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()), 0) end)::float8
        """

    /// Whether this login must read the standby's lag before the server is kept.
    var lagCheckedAtLogin: Bool { role == .standby && pool.settings.maxReplicaLag > 0 }

    /// Reads the lag; `completion(seconds)` (nil when the query failed).
    func readReplicaLag(completion: @escaping (Double?) -> Void) {
        internalFirstValue = nil
        runInternal([Self.replicaLagQuery]) { [self] error in
            let value = error == nil ? internalFirstValue.flatMap(Double.init) : nil
            internalFirstValue = nil
            completion(value)
        }
    }

    /// Finished a transaction and the pool wants this standby's lag (`Pool.lagCheckDue`): read it,
    /// then go back to the pool, or close if the standby is too far behind.
    func checkLagThenRelease() {
        readReplicaLag { [self] seconds in
            guard let seconds else { close(reason: "lag_check_failed"); return }
            pool.replicaLagMeasured(upstreamHost, seconds: seconds)
            pool.release(self)  // closes it instead when the measurement retired it
        }
    }

    // MARK: role changes

    /// A ParameterStatus that may change the server's role: `in_hot_standby`, which PostgreSQL
    /// reports again when a standby is promoted. (`default_transaction_read_only` changes with a
    /// client's or an alignment's `SET`, so it is read at login only.)
    func roleParameterReported(name: String) {
        guard name.lowercased() == "in_hot_standby" else { return }
        let newRole = ServerRole(parameters: ["in_hot_standby": parameters.current["in_hot_standby"] ?? "",
                                              "default_transaction_read_only": role == .primary(readOnly: true) ? "on" : "off"])
        guard newRole != role else { return }
        runtime.logger.notice("server changed role", metadata: [
            "database": "\(pool.settings.database)", "server": "\(id)", "host": "\(selection.current)",
            "from": "\(role)", "to": "\(newRole)"])
        role = newRole
        if !selection.fits(newRole) { retire("role_changed") }
    }

    /// A read-write pool's server refused a write with `25006`: it is read-only now.
    func readOnlyErrorReceived() {
        if selection.attrs == .readWrite { retire("read_only") }
    }

    /// Not reused: closed now when idle, else when its client releases it.
    func retire(_ reason: String) {
        guard retireReason == nil else { return }
        retireReason = reason
        if case .idle = state { close(reason: reason) }
    }
}
