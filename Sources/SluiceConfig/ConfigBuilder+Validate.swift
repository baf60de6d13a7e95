// ConfigBuilder+Validate: the checks that span keys (required keys, names, min vs. pool size).

extension ConfigBuilder {
    /// Runs once both layers are applied. `mainFile` is where whole-config errors are reported:
    /// the config file, or "environment" when there is none.
    mutating func validate(mainFile: String) {
        if config.databases.isEmpty {
            fail(Origin(file: mainFile, key: "databases"), "at least one database is required")
        }
        if config.minPoolSize > config.defaultPoolSize {
            fail(origins["sluice.min_pool_size"] ?? Origin(file: mainFile, key: "sluice.min_pool_size"),
                 "must not exceed default_pool_size (\(config.defaultPoolSize)), got \(config.minPoolSize)")
        }
        let hasCertificate = config.clientTLSCert != nil && config.clientTLSKey != nil
        if (config.clientTLSCert == nil) != (config.clientTLSKey == nil) {
            let key = config.clientTLSCert == nil ? "sluice.client_tls_cert" : "sluice.client_tls_key"
            fail(Origin(file: mainFile, key: key), "client_tls_cert and client_tls_key go together; set both")
        }
        var tlsModes: [(String, ClientTLSMode)] = config.clientTLS.map { [("sluice.client_tls", $0)] } ?? []
        for (name, database) in config.databases { if let mode = database.clientTLS { tlsModes.append(("databases.\(name).client_tls", mode)) } }
        for (key, mode) in tlsModes.sorted(by: { $0.0 < $1.0 }) where mode != .disable && !hasCertificate {
            fail(origins[key] ?? Origin(file: mainFile, key: key),
                 "client_tls = \(mode.rawValue) needs client_tls_cert and client_tls_key")
        }
        if config.clientTLSVerify != .none && config.clientTLSCA == nil {
            fail(origins["sluice.client_tls_verify"] ?? Origin(file: mainFile, key: "sluice.client_tls_verify"),
                 "client_tls_verify = \(config.clientTLSVerify.rawValue) needs client_tls_ca")
        }
        for name in config.databases.keys.sorted() {
            validateDatabase(name)
        }
        readAuthFile(mainFile: mainFile)
        for name in config.users.keys.sorted() {
            validateUser(name)
        }
    }

    /// `auth_file`: each user of the file becomes a client login, unless `[users.NAME]` gives it a
    /// password (a table without one, for per-user limits only, takes the file's).
    private mutating func readAuthFile(mainFile: String) {
        guard let path = config.authFile, !path.isEmpty else { return }
        let origin = origins["sluice.auth_file"] ?? Origin(file: mainFile, key: "sluice.auth_file")
        var resolved = path
        if !path.hasPrefix("/"), mainFile != ConfigBuilder.environmentFile, let slash = mainFile.lastIndex(of: "/") {
            resolved = String(mainFile[...slash]) + path
        }
        let text: String
        do { text = try readTextFile(resolved) } catch {
            fail(origin, "cannot read \(resolved): \(error.reason)")
            return
        }
        for (name, password) in PgBouncerUserlist.parse(text) where !password.isEmpty && UserConfig.problem(withName: name) == nil {
            if password.hasPrefix("SCRAM-SHA-256$"), !isSCRAMVerifier(password) {
                fail(origin, "\(resolved): user \(quoted(name)) has a malformed SCRAM-SHA-256 verifier")
                continue
            }
            if var user = config.users[name] {
                if user.password.isEmpty { user.password = password; config.users[name] = user }
            } else {
                config.users[name] = UserConfig(name: name, password: password)
            }
        }
    }

    private mutating func validateDatabase(_ name: String) {
        guard let database = config.databases[name], let origin = databaseOrigins[name] else { return }
        if let reason = DatabaseConfig.problem(withName: name) { fail(origin, reason) }
        for key in DatabaseConfig.keys where key.isRequired && !givenKeys.contains("databases.\(name).\(key.name)") {
            fail(missingKeyOrigin(section: "databases", name: name, key: key.name, key.environmentName, origin), "required")
        }
        if let minimum = database.minPoolSize, minimum > config.poolSize(for: database),
           let minimumOrigin = origins["databases.\(name).min_pool_size"] {
            let source = database.poolSize == nil ? "default_pool_size" : "pool_size"
            fail(minimumOrigin, "must not exceed \(source) (\(config.poolSize(for: database))), got \(minimum)")
        }
    }

    private mutating func validateUser(_ name: String) {
        guard let user = config.users[name], let origin = userOrigins[name] else { return }
        if let reason = UserConfig.problem(withName: name) { fail(origin, reason) }
        for key in UserConfig.keys where key.isRequired && !givenKeys.contains("users.\(name).\(key.name)") {
            fail(missingKeyOrigin(section: "users", name: name, key: key.name, key.environmentName, origin), "required")
        }
        if config.clientAuth == .scramSHA256, user.passwordKind == .md5Hash,
           let passwordOrigin = origins["users.\(name).password"] {
            fail(passwordOrigin, "an md5 hash cannot be used with client_auth = scram-sha-256; "
                + "give the plaintext password or a SCRAM-SHA-256 verifier")
        }
    }

    /// Where to report a missing key: the file's dotted key, or the variable that would set it
    /// when the table was created by the environment.
    private func missingKeyOrigin(section: String, name: String, key: String, _ environmentKey: String,
                                  _ tableOrigin: Origin) -> Origin {
        if tableOrigin.file == Self.environmentFile {
            return Origin(file: tableOrigin.file, key: "SLUICE_\(section.uppercased())__\(name)__\(environmentKey)")
        }
        return Origin(file: tableOrigin.file, key: "\(section).\(name).\(key)")
    }
}
