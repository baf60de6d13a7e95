// PgBouncerImport+Databases: `[databases]` lines → `[databases.NAME] url = …`, userlist.txt → URLs and `[users]`.
import SluiceConfig

extension PgBouncerConverter {
    private mutating func skip(_ setting: PgBouncerINI.Setting, key: String, _ reason: String) {
        skipped.append(.init(location: setting.location, key: key, reason: reason))
    }

    private func userlistPassword(_ user: String) -> String? {
        userlist.last { $0.user == user }?.password
    }

    /// One `name = host=… port=… dbname=…` line.
    mutating func convertDatabase(_ setting: PgBouncerINI.Setting) {
        let name = setting.key
        if name == "*" {
            return skip(setting, key: "databases.*",
                        "Sluice has no catch-all database; add a [databases.NAME] table for each database clients use")
        }
        if ["sluice", "pgbouncer"].contains(name) {
            return skip(setting, key: "databases.\(name)", "the name is reserved for Sluice's admin console")
        }
        var table = TOMLTable(path: ["databases", name])
        var host: String?
        var port = 5432
        var database = name
        var user: String?
        var password: String?
        var options: [String] = []
        var parameters: [(String, String)] = []
        for (key, value) in ConnectionString.parse(setting.value) {
            let dotted = "databases.\(name).\(key)"
            switch key {
            case "host":
                let hosts = value.split(separator: ",").map { String($0).trimmed }
                if hosts.count > 1 { skip(setting, key: dotted, "several hosts: Sluice connects to one; used \(hosts[0])") }
                host = hosts.first
            case "port":
                if let number = Int(value.split(separator: ",").first ?? ""), (1...65_535).contains(number) {
                    port = number
                } else {
                    skip(setting, key: dotted, "not a port number")
                }
            case "dbname": database = value
            case "user": user = value
            case "password": password = value
            case "pool_size", "min_pool_size":
                guard let number = Int(value) else { skip(setting, key: dotted, "not an integer"); continue }
                let range = key == "pool_size" ? 1...10_000 : 0...10_000
                let clamped = min(max(number, range.lowerBound), range.upperBound)
                if clamped != number { skip(setting, key: dotted, "\(number) is outside \(range); wrote \(clamped)") }
                table.set(key, .integer(clamped))
            case "pool_mode":
                if value == "statement" {
                    skip(setting, key: dotted, "statement mode is not supported; wrote transaction")
                    table.set("pool_mode", .string("transaction"))
                } else if PoolMode(rawValue: value) != nil {
                    table.set("pool_mode", .string(value))
                } else {
                    skip(setting, key: dotted, "unknown pool_mode")
                }
            case "application_name": parameters.append(("application_name", value))
            default:
                if let parameter = PgBouncerKeys.startupSettings[key] {
                    options.append("-c \(parameter)=\(value.replacingAll("\\", with: "\\\\").replacingAll(" ", with: "\\ "))")
                } else {
                    skip(setting, key: dotted, PgBouncerKeys.databaseNotCarried[key] ?? "unknown [databases] parameter")
                }
            }
        }
        if host == nil || host!.hasPrefix("/") {
            toFill.append("databases.\(name).url: PgBouncer reached this server through a Unix socket"
                + "\(host.map { " (\($0))" } ?? ""); Sluice connects over TCP — 127.0.0.1 was written, correct the host")
            host = "127.0.0.1"
        }
        if user == nil {
            if userlist.count == 1 {
                user = userlist[0].user
                notes.append("databases.\(name): no user= in PgBouncer (clients' own user was used upstream); "
                    + "wrote the only userlist user, \(userlist[0].user).")
            } else {
                user = "REPLACE_ME"
                toFill.append("databases.\(name).url: PgBouncer logged in upstream as each client's own user; Sluice logs "
                    + "in as one role per database — replace REPLACE_ME with it (other users can log in through [users])")
            }
        }
        let role = user!
        var comment: String?
        if password == nil, let listed = userlistPassword(role) {
            let kind = UserConfig(name: role, password: listed).passwordKind
            if kind == .plaintext {
                password = listed
            } else {
                comment = "TODO: add the upstream password of \(role) (the userlist holds only a verifier)"
                toFill.append("databases.\(name).url: the upstream password of \(role) — the userlist holds only a "
                    + "\(kind == .md5Hash ? "md5" : "SCRAM-SHA-256") verifier, which can check a client but cannot log in upstream")
            }
        } else if password == nil && role != "REPLACE_ME" {
            comment = "TODO: add the upstream password of \(role)"
            toFill.append("databases.\(name).url: no password for \(role) in the [databases] line or the userlist")
        }
        urlUsers[role] = (urlUsers[role] ?? false) || password != nil
        var query: [(String, String)] = []
        if let serverSSLMode { query.append(("sslmode", serverSSLMode)) }
        if !options.isEmpty { query.append(("options", options.joined(separator: " "))) }
        query += parameters + serverTLSParameters
        var url = "postgresql://" + percentEncode(role)
        if let password { url += ":" + percentEncode(password) }
        url += "@\(URLText.urlHost(host!)):\(port)/\(percentEncode(database))"
        if !query.isEmpty {
            url += "?" + query.map { "\($0.0)=\(percentEncode($0.1))" }.joined(separator: "&")
        }
        table.entries.insert((key: "url", value: .string(url), comment: comment), at: 0)
        databases.removeAll { $0.path == table.path }
        databases.append(table)
    }

    /// Userlist entries → `[users.NAME]` (client logins), except URL users whose password is in their URL.
    mutating func convertUsers() {
        var loginsOnly: [String] = []
        for (user, password) in userlist {
            guard !password.isEmpty else { continue }
            if urlUsers[user] == true, UserConfig(name: user, password: password).passwordKind == .plaintext { continue }
            let kind = UserConfig(name: user, password: password).passwordKind
            if kind == .md5Hash && clientAuth == .scramSHA256 {
                skipped.append(.init(location: "userlist", key: "users.\(user)",
                                     reason: "an md5 verifier cannot check a scram-sha-256 login; give the plaintext password or a SCRAM verifier"))
                continue
            }
            var table = TOMLTable(path: ["users", user])
            table.set("password", .string(password))
            users.append(table)
            if urlUsers[user] == nil { loginsOnly.append(user) }
        }
        if !loginsOnly.isEmpty {
            notes.append("[users] \(loginsOnly.joined(separator: ", ")): they log in to Sluice with their userlist "
                + "password; upstream, their sessions run as each database's URL user.")
        }
    }

    /// `min_pool_size` above the pool size is refused by Sluice; lower it as PgBouncer effectively did.
    mutating func checkPoolSizes() {
        var defaultSize = 20
        if case .integer(let size)? = sluice.value("default_pool_size") { defaultSize = size }
        if case .integer(let minimum)? = sluice.value("min_pool_size"), minimum > defaultSize {
            sluice.set("min_pool_size", .integer(defaultSize))
            skipped.append(.init(location: "[pgbouncer]", key: "min_pool_size",
                                 reason: "\(minimum) exceeds default_pool_size (\(defaultSize)); wrote \(defaultSize)"))
        }
        for index in databases.indices {
            guard case .integer(let minimum)? = databases[index].value("min_pool_size") else { continue }
            var size = defaultSize
            if case .integer(let own)? = databases[index].value("pool_size") { size = own }
            if minimum > size {
                databases[index].set("min_pool_size", .integer(size))
                let name = databases[index].path[1]
                skipped.append(.init(location: "[databases]", key: "databases.\(name).min_pool_size",
                                     reason: "\(minimum) exceeds the pool size (\(size)); wrote \(size)"))
            }
        }
    }
}
