// ConfigBuilder+Environment: applies `SLUICE_*` variables over what the file said.

extension ConfigBuilder {
    /// Applies `SLUICE_<KEY>`, `SLUICE_DATABASES__<NAME>__<KEY>` and `SLUICE_USERS__<NAME>__<KEY>`,
    /// in variable-name order. Any other `SLUICE_*` variable (but `SLUICE_CONFIG`,
    /// `SLUICE_LOG_FORMAT`) is an unknown key.
    mutating func read(environment: [String: String]) {
        let prefix = "SLUICE_"
        for (variable, text) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix(prefix) {
            guard !SluiceConfig.reservedEnvironmentNames.contains(variable) else { continue }
            let origin = Origin(file: Self.environmentFile, key: variable)
            let rest = variable.dropFirst(prefix.count)
            let value = ConfigValue.string(text)
            if rest.hasPrefix("DATABASES__") {
                guard let (name, keyName) = splitNameAndKey(rest.dropFirst("DATABASES__".count), "DATABASES", origin)
                else { continue }
                guard let key = DatabaseConfig.keys.key(environmentName: keyName) else {
                    fail(origin, "unknown key")
                    continue
                }
                guard let database = resolve(name, among: config.databases.keys, origin) else { continue }
                setDatabaseKey(database, key.name, value, .environment, origin: origin)
            } else if rest.hasPrefix("USERS__") {
                guard let (name, keyName) = splitNameAndKey(rest.dropFirst("USERS__".count), "USERS", origin)
                else { continue }
                guard let key = UserConfig.keys.key(environmentName: keyName) else {
                    fail(origin, "unknown key")
                    continue
                }
                guard let user = resolve(name, among: config.users.keys, origin) else { continue }
                setUserKey(user, key.name, value, .environment, origin: origin)
            } else if let key = SluiceConfig.keys.first(where: { $0.environmentName == rest }) {
                setGlobal(key.name, value, .environment, origin: origin)
            } else {
                fail(origin, "unknown key")
            }
        }
    }

    /// `NAME__KEY` split at its last `__`; nil, after recording why, when either part is missing.
    private mutating func splitNameAndKey(_ text: Substring, _ section: String, _ origin: Origin) -> (String, String)? {
        if let separator = text.ranges(of: "__").last {
            let name = String(text[..<separator.lowerBound])
            let key = String(text[separator.upperBound...])
            if !name.isEmpty, !key.isEmpty { return (name, key) }
        }
        fail(origin, "expected SLUICE_\(section)__<NAME>__<KEY>")
        return nil
    }

    /// The existing name `name` refers to: the same spelling first, else the only one equal
    /// ignoring case; `name` itself when none matches (the variable creates it); nil when ambiguous.
    private mutating func resolve(_ name: String, among names: some Collection<String>, _ origin: Origin) -> String? {
        if names.contains(name) { return name }
        let matches = names.filter { $0.lowercased() == name.lowercased() }.sorted()
        switch matches.count {
        case 0: return name
        case 1: return matches[0]
        default:
            fail(origin, "\(quoted(name)) matches more than one name ignoring case: \(matches.joined(separator: ", "))")
            return nil
        }
    }
}
