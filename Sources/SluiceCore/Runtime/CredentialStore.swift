// CredentialStore: who may log in to which database, with SCRAM secrets derived once per password.
import PostgresWire
import SluiceConfig

/// Client credentials: each database's URL user (for that database) and every `[users]` entry.
struct CredentialStore {
    private var users: [String: ClientCredentials] = [:]
    private var urlUsers: [String: ClientCredentials] = [:]   // by database name
    /// Derived secrets by (user, password), so a reload does not run PBKDF2 again.
    private var derived: [String: SCRAMSecret] = [:]

    mutating func rebuild(from config: SluiceConfig) {
        var newUsers: [String: ClientCredentials] = [:]
        var newURLUsers: [String: ClientCredentials] = [:]
        for (name, user) in config.users where !user.password.isEmpty {
            if let secret = SCRAMSecret.parse(user.password) {
                newUsers[name] = ClientCredentials(user: name, password: nil, scram: secret)
            } else {
                newUsers[name] = ClientCredentials(user: name, password: user.password, scram: secret(user: name, password: user.password))
            }
        }
        for (name, database) in config.databases {
            let url = database.url
            newURLUsers[name] = ClientCredentials(user: url.user, password: url.password,
                                                  scram: url.password.map { secret(user: url.user, password: $0) })
        }
        users = newUsers
        urlUsers = newURLUsers
    }

    private mutating func secret(user: String, password: String) -> SCRAMSecret {
        let key = user + "\u{0}" + password
        if let known = derived[key] { return known }
        let secret = SCRAMSecret.derive(password: password, salt: secureRandomBytes(16), iterations: 4096)
        derived[key] = secret
        return secret
    }

    /// Any known credentials of `user` (admin console logins): `[users]` first, then a database URL's user.
    func lookupAny(user: String) -> ClientCredentials? {
        if let found = users[user] { return found }
        return urlUsers.values.first { $0.user == user }
    }

    func lookup(user: String, database: PoolSettings) -> ClientCredentials? {
        if let urlUser = urlUsers[database.database], urlUser.user == user { return urlUser }
        return users[user]
    }
}
