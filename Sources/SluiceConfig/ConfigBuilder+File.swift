// ConfigBuilder+File: reads the parsed TOML document's `[sluice]`, `[databases.*]` and `[users.*]` tables.

extension ConfigBuilder {
    /// Applies every entry of the document; unknown tables and keys are errors.
    mutating func read(document: [ConfigValue.Entry], file: String) {
        for section in document {
            let origin = Origin(file: file, key: section.key)
            switch section.key {
            case "sluice":
                guard let entries = table(section.value, origin) else { continue }
                for entry in entries {
                    setGlobal(entry.key, entry.value, .file, origin: Origin(file: file, key: "sluice.\(entry.key)"))
                }
            case "databases":
                guard let databases = table(section.value, origin) else { continue }
                for database in databases {
                    let databaseOrigin = Origin(file: file, key: "databases.\(database.key)")
                    guard let entries = table(database.value, databaseOrigin) else { continue }
                    defineDatabase(database.key, origin: databaseOrigin)
                    for entry in entries {
                        let entryOrigin = Origin(file: file, key: "\(databaseOrigin.key).\(entry.key)")
                        setDatabaseKey(database.key, entry.key, entry.value, .file, origin: entryOrigin)
                    }
                }
            case "users":
                guard let users = table(section.value, origin) else { continue }
                for user in users {
                    let userOrigin = Origin(file: file, key: "users.\(user.key)")
                    guard let entries = table(user.value, userOrigin) else { continue }
                    defineUser(user.key, origin: userOrigin)
                    for entry in entries {
                        let entryOrigin = Origin(file: file, key: "\(userOrigin.key).\(entry.key)")
                        setUserKey(user.key, entry.key, entry.value, .file, origin: entryOrigin)
                    }
                }
            default:
                fail(origin, "unknown key")
            }
        }
    }

    /// The entries of a table value, or nil after recording "expected a table".
    private mutating func table(_ value: ConfigValue, _ origin: Origin) -> [ConfigValue.Entry]? {
        guard case .table(let entries) = value else {
            fail(origin, "expected a table, got \(value.typeName)")
            return nil
        }
        return entries
    }
}
