// ConfigLoader: reads the TOML file and `SLUICE_*` variables into a validated SluiceConfig.

import Foundation

/// Entry points for loading a configuration. Every problem is collected; a load either
/// returns a complete, valid config or throws all of them at once.
public enum ConfigLoader {
    /// The `file` of errors that come from environment variables.
    public static let environmentFile = ConfigBuilder.environmentFile

    /// Reads the TOML file at `path`, then applies `environment`. An empty `path` means no file
    /// (see `fromEnvironment`).
    public static func load(
        path: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigErrors) -> SluiceConfig {
        if path.isEmpty { return try fromEnvironment(environment) }
        let text: String
        do {
            text = try readTextFile(path)
        } catch {
            throw ConfigErrors([ConfigError(file: path, key: "(file)", reason: error.reason)])
        }
        var config = try parse(toml: text, file: path, environment: environment)
        config.sourcePath = path
        return config
    }

    /// Parses `toml` (named `file` in errors), then applies `environment`.
    public static func parse(toml: String, file: String, environment: [String: String]) throws(ConfigErrors) -> SluiceConfig {
        let document: [ConfigValue.Entry]
        switch ConfigValue.parse(toml: toml) {
        case .success(let entries): document = entries
        case .failure(let error):
            throw ConfigErrors([ConfigError(file: file, key: "(syntax)", reason: error.message)])
        }
        var builder = ConfigBuilder()
        builder.read(document: document, file: file)
        builder.read(environment: environment)
        builder.validate(mainFile: file)
        guard builder.errors.isEmpty else { throw ConfigErrors(builder.errors) }
        return builder.config
    }

    /// Builds the configuration from `SLUICE_*` variables alone (a container with no file);
    /// `SLUICE_DATABASES__<NAME>__URL` creates each database.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigErrors) -> SluiceConfig {
        var builder = ConfigBuilder()
        builder.read(environment: environment)
        builder.validate(mainFile: environmentFile)
        guard builder.errors.isEmpty else { throw ConfigErrors(builder.errors) }
        return builder.config
    }
}
