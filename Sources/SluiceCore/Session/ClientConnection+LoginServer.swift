// ClientConnection+LoginServer: a login that takes a server first (session mode; unknown spellings of settings in transaction mode).
import PostgresWire
import SluiceConfig

extension ClientConnection {
    /// The client is authenticated to `pool`. In session mode it gets its server now, as from
    /// PostgreSQL: its settings are applied there first, and it is told that server's values and
    /// backend pid. In transaction mode the login finishes from the pool's parameters, with the
    /// server's spelling of the client's settings when the pool has learnt it; otherwise a server
    /// is taken to apply them and learn it (and goes back to the pool at once). Either wait is a
    /// wait for a server in the pool's queue, bounded by `query_wait_timeout`.
    func beginPooledLogin(_ pool: Pool) {
        if case .answerFromPool(let canonical) = pool.loginPlan(for: wanted) {
            session.parametersCanonicalized(canonical)
            pool.requestParameters(for: self)
            return
        }
        // Authenticated: from here the wait is for a server, bounded like any (query_wait_timeout).
        loginTimer?.cancel()
        loginTimer = nil
        loginTakesServer = true
        pool.acquire(for: self)
    }

    /// The login's server is aligned with the client's settings (an invalid one closed the client
    /// with the server's own error instead, in `ServerConnection.link`): learn the server's
    /// spelling of them, give the client the server's values, and finish the login.
    func loginServerReady(_ server: ServerConnection) {
        guard let pool else { return }
        session.parametersCanonicalized(pool.learnCanonicalParameters(wanted, from: server))
        let parameterStatus = pool.loginParameterStatus(from: server)
        if pool.settings.mode == .session, let key = server.backendKey, key.processID > 0 {
            // The real backend pid, with a secret of Sluice's: a cancel still goes through Sluice.
            (processID, secretKey) = runtime.registerCancelKey(for: self, processID: key.processID)
        } else if pool.settings.mode != .session {
            // Transaction mode holds no server between transactions: this one only taught us.
            self.server = nil
            session.serverReleased()
            pool.release(server)
        }
        finishLogin(parameterStatus: parameterStatus)
    }

    /// The login's server was lost before the login finished: take another.
    func loginServerLost() {
        session.serverReleased()
        pool?.acquire(for: self)
    }
}
