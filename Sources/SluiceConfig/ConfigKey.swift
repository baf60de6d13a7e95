// ConfigKey: one key of a config table — its name, how its value is read, its default.

/// Where a raw value came from; environment values are strings that may spell numbers.
enum ValueSource: Sendable {
    case file
    case environment
}

/// Why a value was refused; becomes the `reason` of a `ConfigError`.
struct ValueProblem: Error, Sendable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// A key of a table whose values land in `Target` (`SluiceConfig`, `DatabaseConfig`, `UserConfig`).
struct ConfigKey<Target>: Sendable {
    /// The key as written in TOML (`max_client_conn`).
    let name: String
    /// Whether the table is incomplete without it.
    let isRequired: Bool
    /// Decodes `value` and stores it in the target, or says why it cannot.
    let apply: @Sendable (ConfigValue, ValueSource, inout Target) throws(ValueProblem) -> Void
    /// Stores the key's default in the target.
    let reset: @Sendable (inout Target) -> Void

    /// The key as spelled inside an environment variable name (`MAX_CLIENT_CONN`).
    var environmentName: String { name.uppercased() }

    /// A key with a default value.
    init<Value: Sendable>(
        _ name: String,
        _ path: WritableKeyPath<Target, Value> & Sendable,
        default defaultValue: Value,
        required: Bool = false,
        _ decoder: ValueDecoder<Value>
    ) {
        self.name = name
        self.isRequired = required
        self.apply = { (value, source, target) throws(ValueProblem) in
            target[keyPath: path] = try decoder.decode(value, source)
        }
        self.reset = { target in target[keyPath: path] = defaultValue }
    }

    /// An optional key whose absence is nil.
    init<Value: Sendable>(
        _ name: String,
        _ path: WritableKeyPath<Target, Value?> & Sendable,
        required: Bool = false,
        _ decoder: ValueDecoder<Value>
    ) {
        self.name = name
        self.isRequired = required
        self.apply = { (value, source, target) throws(ValueProblem) in
            target[keyPath: path] = try decoder.decodeOptional(value, source)
        }
        self.reset = { target in target[keyPath: path] = nil }
    }
}

extension Array {
    /// The key named `name` in a key table, if there is one.
    func key<Target>(named name: String) -> ConfigKey<Target>? where Element == ConfigKey<Target> {
        first { $0.name == name }
    }

    /// The key whose environment spelling is `environmentName` (compared case-insensitively).
    func key<Target>(environmentName: String) -> ConfigKey<Target>? where Element == ConfigKey<Target> {
        let wanted = environmentName.uppercased()
        return first { $0.environmentName == wanted }
    }
}
