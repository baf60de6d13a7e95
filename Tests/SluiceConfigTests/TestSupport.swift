// TestSupport: helpers shared by the SluiceConfig tests.

import SluiceConfig
import XCTest

/// A minimal valid file body: one database.
let minimalDatabase = """
    [databases.app]
    url = "postgresql://app:secret@db.example.com/app"
    """

/// Parses `toml` as "sluice.toml" and fails the test if it is refused.
func parsed(_ toml: String, environment: [String: String] = [:],
            file: StaticString = #filePath, line: UInt = #line) -> SluiceConfig? {
    do {
        return try ConfigLoader.parse(toml: toml, file: "sluice.toml", environment: environment)
    } catch {
        XCTFail("unexpected errors:\n\(error)", file: file, line: line)
        return nil
    }
}

/// The `FILE: key: reason` lines `toml` is refused with ([] when it is accepted).
func refusals(_ toml: String, environment: [String: String] = [:]) -> [String] {
    do {
        _ = try ConfigLoader.parse(toml: toml, file: "sluice.toml", environment: environment)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

/// The `FILE: key: reason` lines an environment-only configuration is refused with.
func environmentRefusals(_ environment: [String: String]) -> [String] {
    do {
        _ = try ConfigLoader.fromEnvironment(environment)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}
