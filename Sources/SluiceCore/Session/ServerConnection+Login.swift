// ServerConnection+Login: the upstream's answers during login, which host to keep (target_session_attrs, max_replica_lag), and handing the server to its pool.
import PostgresWire
import SluiceIO

extension ServerConnection {
    func processLogin() {
        forEachMessage { type, body in
            guard case .loggingIn = state, let action = login?.messageReceived(type: type, body: body) else { return false }
            switch action {
            case .none: return true
            case .send(let bytes): send(bytes); return true
            case .fail(let failure): failLogin(failure); return false  // teardown drops `login`
            case .ready(let parameters, let key):
                login = nil
                role = ServerRole(parameters: Dictionary(parameters.map { ($0.name.lowercased(), $0.value) },
                                                         uniquingKeysWith: { _, last in last }))
                let reached = selection.current
                let verdict = selection.loggedIn(as: role)
                if verdict != .accept { pool.countHostPassedOver(reached, reason: "wrong_role") }
                guard passOn(verdict) else { return false }
                for (name, value) in parameters { self.parameters.reported(name: name, value: value) }
                loginParameters = parameters
                backendKey = key
                guard lagCheckedAtLogin else {
                    finishLogin(parameters: parameters)
                    return false
                }
                // max_replica_lag: a standby too far behind passes the turn like a wrong role.
                loginLagCheck = true
                readReplicaLag { [self] seconds in
                    loginLagCheck = false
                    guard let seconds else {
                        hostFailed(ServerLoginFailure(code: SQLState.connectionFailure,
                                                      message: "could not read the standby's replication lag", retryable: true))
                        return
                    }
                    pool.replicaLagMeasured(selection.current, seconds: seconds)
                    let limit = pool.settings.maxReplicaLag
                    if seconds > limit {
                        pool.countHostPassedOver(selection.current, reason: "lagging")
                        _ = passOn(selection.lagging(seconds: seconds, limit: limit))
                        return
                    }
                    finishLogin(parameters: parameters)
                }
                return false
            }
        }
    }

    /// Carries out a host verdict at login: true to keep this server; otherwise the connection
    /// moved on to the next host, or reported the failed login to the pool.
    private func passOn(_ verdict: HostSelection.Verdict) -> Bool {
        switch verdict {
        case .accept:
            return true
        case .tryHost:
            // Not the kind of server target_session_attrs asks for: the next host.
            send(Terminate().encoded)
            teardown()
            connectToHost()
        case .fail(let message):
            send(Terminate().encoded)
            teardown()
            reportLoginFailure(ServerLoginFailure(code: SQLState.connectionFailure, message: message, retryable: true))
        }
        return false
    }

    /// The login is complete and the server is kept: the pool gets it.
    private func finishLogin(parameters: [(name: String, value: String)]) {
        provisional = selection.passedOverLagging
        state = .idle
        let micros = MonotonicClock.microseconds() - connectStartedAt
        runtime.logger.info("server connected", metadata: [
            "database": "\(pool.settings.database)", "server": "\(id)", "host": "\(selection.current)", "role": "\(role)",
            "backend_pid": "\(backendKey?.processID ?? 0)", "connect_ms": "\(micros / 1000)"])
        if let relay = notificationRelay {
            relay.listenerLoggedIn(self)
        } else {
            pool.serverReady(self, parameters: parameters, connectMicroseconds: micros)
        }
    }
}
