// Pool+Login: what a login needs from the pool: the server's spelling of the client's settings.
import PostgresWire

extension Pool {
    /// How a client's login finishes (`LoginPlan.decide` with this pool's mode, the settings its
    /// server reports and the spellings it has learnt).
    func loginPlan(for wanted: SessionParameters) -> LoginPlan {
        LoginPlan.decide(mode: settings.mode, wanted: wanted.values,
                         reportedNames: serverParameters == nil ? nil : reportedParameterNames, known: canonicalParameters,
                         serverFreeNow: lendsWithoutQueueing)
    }

    /// `server` ran an alignment that `SET` these values (`set`): what it reports for them now is
    /// their canonical spelling (every alignment teaches the pool, not only logins').
    func learnCanonicalParameters(set: [String: String], from server: ServerConnection) {
        guard !set.isEmpty else { return }
        _ = canonicalParameters.learn(wanted: set, serverValues: server.parameters.current,
                                      reported: server.parameters.reportedNames)
    }

    /// `server` was just aligned to `wanted`: what it reports for each reported setting is the
    /// canonical spelling of what the client wrote. Remembered for later logins; returned.
    func learnCanonicalParameters(_ wanted: SessionParameters, from server: ServerConnection) -> [String: String] {
        canonicalParameters.learn(wanted: wanted.values, serverValues: server.parameters.current,
                                  reported: server.parameters.reportedNames)
    }

    /// What a client whose login took `server` is told in ParameterStatus: the pool's parameter
    /// names (the server's own list if the pool has none) with the server's current values.
    func loginParameterStatus(from server: ServerConnection) -> [(name: String, value: String)] {
        let names = serverParameters ?? server.loginParameters
        return names.map { (name: $0.name, value: server.parameters.current[$0.name.lowercased()] ?? $0.value) }
    }
}
