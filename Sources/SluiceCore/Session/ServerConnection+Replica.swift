// ServerConnection+Replica: a standby's replication lag, read at login and while in use (max_replica_lag).
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
}
