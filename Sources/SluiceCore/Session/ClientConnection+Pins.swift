// ClientConnection+Pins: a client pinned to its server by session state: counted, logged once, and its server reset when it leaves.
import Logging
import PostgresWire

extension ClientConnection {
    /// Session state this client made on its server (transaction mode: pinned while not empty).
    var pins: SessionPins { session.pins }

    /// A forwarded statement made session state of kinds this client had not made before
    /// (`gained`; empty when nothing new): count them and log once per kind. `statement`: its
    /// text for the log (read only with `log_leak_queries`).
    func pinned(_ gained: SessionPins, statement: () -> String?) {
        guard !gained.isEmpty, let pool else { return }
        pool.countPins(gained)
        var metadata: Logger.Metadata = [
            "client": "\(id)", "address": "\(peer)", "database": "\(database)", "user": "\(user)",
            "application_name": "\(applicationName)", "reason": "\(gained.label)"]
        // The statement's text only where an operator asked for statement text in the log.
        if runtime.config.logLeakQueries, let text = statement() {
            metadata["query"] = "\(text)"
        }
        let effect = pool.settings.mode == .transaction
            ? "pinned to its server until the state is gone or the client leaves (then the server is reset)"
            : "session state that cannot be rebuilt on another server"
        runtime.logger.notice("client made session state: \(effect)", metadata: metadata)
    }

    /// How the server this client leaves must be cleaned before anyone else gets it: session mode's
    /// `server_reset_query`; in transaction mode `DISCARD ALL` after a pinned client (whatever
    /// `server_reset_query` says: it must remove what pinned), or `server_reset_query` when
    /// `server_reset_query_always`.
    func resetOnLeave() -> (query: String, reason: String)? {
        guard let settings = pool?.settings else { return nil }
        if settings.mode == .session { return settings.serverResetQuery.isEmpty ? nil : (settings.serverResetQuery, "session_client_left") }
        if !session.pins.isEmpty { return ("DISCARD ALL", "pinned_client_left") }
        if settings.serverResetQueryAlways && !settings.serverResetQuery.isEmpty { return (settings.serverResetQuery, "reset_query_always") }
        return nil
    }
}
