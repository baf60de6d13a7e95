// ClientURLs+Text: the human-readable listing `sluice urls` prints by default.

extension ClientURLs {
    /// One block per database: a label line, then the value indented by two spaces.
    public var text: String {
        var lines = ["Sluice at \(URLText.urlHost(host)):\(port): connection settings for \(databases.count) database(s)"]
        for note in notes { lines.append("note: \(note)") }
        for settings in databases {
            lines.append("")
            lines += settings.textLines
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension ClientSettings {
    var textLines: [String] {
        var lines = ["== \(database): user \(user), sslmode=\(sslMode), pool_mode = \(poolMode), pool_size = \(poolSize)"]
        func block(_ label: String, _ values: [String]) {
            lines.append(label)
            lines += values.map { "  " + $0 }
        }
        block("psql / libpq URL:", [libpqURL, psql])
        block("libpq key=value (psycopg 3, psycopg2, libpq):", [libpqDSN])
        block("node-postgres (pg):", [nodePostgres])
        block("postgres.js:", [postgresJS])
        block("Prisma (DATABASE_URL):", [prisma])
        block("asyncpg:", [asyncpg.code])
        block("SQLAlchemy + asyncpg (create_async_engine):", [sqlalchemyAsyncpg])
        block("SQLAlchemy + psycopg 3 (create_engine):", [sqlalchemyPsycopg])
        block("Django (settings.py):", djangoPython)
        block("JDBC:", [jdbc])
        block("notes:", notes.map { "- " + $0 })
        return lines
    }

    /// `DATABASES = {...}` as Python source.
    var djangoPython: [String] {
        var lines = ["DATABASES = {", "    \"default\": {"]
        func item(_ key: String, _ value: String) { lines.append("        \"\(key)\": \(value),") }
        item("ENGINE", URLText.quoted(django.engine))
        item("NAME", URLText.quoted(django.name))
        item("USER", URLText.quoted(django.user))
        item("PASSWORD", URLText.quoted(django.password))
        item("HOST", URLText.quoted(django.host))
        item("PORT", URLText.quoted(django.port))
        let options = django.options.keys.sorted().map { "\(URLText.quoted($0)): \(URLText.quoted(django.options[$0]!))" }
        item("OPTIONS", "{" + options.joined(separator: ", ") + "}")
        item("DISABLE_SERVER_SIDE_CURSORS", django.disableServerSideCursors ? "True" : "False")
        lines += ["    }", "}"]
        return lines
    }
}
