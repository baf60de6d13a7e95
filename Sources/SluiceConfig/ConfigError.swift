// ConfigError: what is wrong with the configuration, as `FILE: key: reason`.

/// One problem: the file (or "environment"), the dotted key (or variable name) and why.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The config file's path, or "environment" for `SLUICE_*` variables.
    public var file: String
    /// Dotted key (`databases.app.pool_size`), variable name (`SLUICE_POOL_MODE`),
    /// `(syntax)` for a TOML syntax error or `(file)` for an unreadable file.
    public var key: String
    /// Why, in words; never holds a password.
    public var reason: String

    public init(file: String, key: String, reason: String) {
        self.file = file
        self.key = key
        self.reason = reason
    }

    public var description: String { "\(file): \(key): \(reason)" }
}

/// Every problem found in one load, in the order found.
public struct ConfigErrors: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(_ errors: [ConfigError]) {
        self.errors = errors
    }

    /// One problem per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
