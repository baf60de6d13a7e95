// ConfigBuilder: lays raw values over the defaults, key by key, collecting every error.

/// Where a setting was made, so an error found later points at the line a person wrote.
struct Origin: Sendable, Equatable {
    var file: String
    var key: String
}

/// Accumulates a `SluiceConfig` from the file and the environment. Nothing here throws:
/// each refused value becomes a `ConfigError` and the rest are still read.
struct ConfigBuilder {
    static let environmentFile = "environment"

    var config = SluiceConfig()
    private(set) var errors: [ConfigError] = []
    /// Where each key set so far came from, by dotted path (`sluice.min_pool_size`, `databases.app.url`).
    private(set) var origins: [String: Origin] = [:]
    /// Dotted paths of every key given a value, accepted or not (a refused `url` is not also "required").
    private(set) var givenKeys: Set<String> = []
    /// Where each database and user was first defined, by name.
    private(set) var databaseOrigins: [String: Origin] = [:]
    private(set) var userOrigins: [String: Origin] = [:]

    mutating func fail(_ origin: Origin, _ reason: String) {
        errors.append(ConfigError(file: origin.file, key: origin.key, reason: reason))
    }

    /// Sets one `[sluice]` key.
    mutating func setGlobal(_ name: String, _ value: ConfigValue, _ source: ValueSource, origin: Origin) {
        guard let key = SluiceConfig.keys.key(named: name) else { return fail(origin, "unknown key") }
        givenKeys.insert("sluice.\(name)")
        if let reason = Self.apply(key, value, source, to: &config) { return fail(origin, reason) }
        origins["sluice.\(name)"] = origin
    }

    /// Sets one key of database `database`, creating the database when it is new.
    mutating func setDatabaseKey(_ database: String, _ name: String, _ value: ConfigValue, _ source: ValueSource, origin: Origin) {
        guard let key = DatabaseConfig.keys.key(named: name) else { return fail(origin, "unknown key") }
        givenKeys.insert("databases.\(database).\(name)")
        var target = config.databases[database] ?? DatabaseConfig(name: database)
        if databaseOrigins[database] == nil { databaseOrigins[database] = origin }
        defer { config.databases[database] = target }
        if let reason = Self.apply(key, value, source, to: &target) { return fail(origin, reason) }
        origins["databases.\(database).\(name)"] = origin
    }

    /// Sets one key of user `user`, creating the user when it is new.
    mutating func setUserKey(_ user: String, _ name: String, _ value: ConfigValue, _ source: ValueSource, origin: Origin) {
        guard let key = UserConfig.keys.key(named: name) else { return fail(origin, "unknown key") }
        givenKeys.insert("users.\(user).\(name)")
        var target = config.users[user] ?? UserConfig(name: user, password: "")
        if userOrigins[user] == nil { userOrigins[user] = origin }
        defer { config.users[user] = target }
        if let reason = Self.apply(key, value, source, to: &target) { return fail(origin, reason) }
        origins["users.\(user).\(name)"] = origin
    }

    /// Records that a database exists (an empty `[databases.NAME]` table still defines one).
    mutating func defineDatabase(_ name: String, origin: Origin) {
        if config.databases[name] == nil { config.databases[name] = DatabaseConfig(name: name) }
        if databaseOrigins[name] == nil { databaseOrigins[name] = origin }
    }

    /// Records that a user exists.
    mutating func defineUser(_ name: String, origin: Origin) {
        if config.users[name] == nil { config.users[name] = UserConfig(name: name, password: "") }
        if userOrigins[name] == nil { userOrigins[name] = origin }
    }

    private static func apply<Target>(_ key: ConfigKey<Target>, _ value: ConfigValue, _ source: ValueSource,
                                      to target: inout Target) -> String? {
        do {
            try key.apply(value, source, &target)
            return nil
        } catch {
            return error.reason
        }
    }
}
