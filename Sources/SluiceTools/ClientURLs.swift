// ClientURLs: for each configured database, the connection settings to paste into common clients.
import SluiceConfig

/// What `sluice urls` prints: one `ClientSettings` per database, built from the config alone.
public struct ClientURLs: Encodable, Sendable {
    /// The host clients reach Sluice at.
    public var host: String
    public var port: Int
    /// Whether passwords are printed (else `<password>` stands in for them).
    public var passwordsShown: Bool
    public var databases: [ClientSettings]
    /// Remarks that concern every database (a wildcard listen address, `[users]` logins).
    public var notes: [String]

    /// Stands in for a password unless `--show-passwords` is given.
    public static let passwordPlaceholder = "<password>"

    enum CodingKeys: String, CodingKey {
        case host, port, passwordsShown = "passwords_shown", databases, notes
    }

    /// Builds the settings for every database of `config`, sorted by name. `host` and `port` default
    /// to the first `listen` address (a wildcard host becomes 127.0.0.1, with a note).
    public init(config: SluiceConfig, host: String? = nil, port: Int? = nil, showPasswords: Bool = false) {
        let listen = config.listen.first ?? ListenAddress(host: "127.0.0.1", port: 6432)
        var notes: [String] = []
        if let host {
            self.host = host
        } else if listen.host == "0.0.0.0" || listen.host == "::" {
            self.host = "127.0.0.1"
            notes.append("Sluice listens on every interface (\(listen)); pass --host with the name clients use to reach it.")
        } else {
            self.host = listen.host
        }
        self.port = port ?? listen.port
        passwordsShown = showPasswords
        if !config.users.isEmpty {
            let names = config.users.keys.sorted().joined(separator: ", ")
            notes.append("Users of [users] (\(names)) may log in too, each with its own password, in place of the "
                + "URL user shown per database.")
        }
        if !showPasswords {
            notes.append("Passwords are shown as \(Self.passwordPlaceholder); --show-passwords prints them.")
        }
        self.notes = notes
        let (clientHost, clientPort) = (self.host, self.port)
        databases = config.databases.keys.sorted().compactMap { name in
            config.databases[name].map { database in
                ClientSettings(config: config, database: database, host: clientHost, port: clientPort,
                               showPasswords: showPasswords)
            }
        }
    }
}

/// The settings of one database, in each client's spelling.
public struct ClientSettings: Encodable, Sendable {
    /// The name clients put in their connection (the `[databases.NAME]` table), not the upstream's.
    public var database: String
    public var user: String
    /// The URL user's password, or `<password>`.
    public var password: String
    /// `require` when Sluice offers TLS to this database's clients, else `disable`.
    public var sslMode: String
    public var poolMode: String
    public var poolSize: Int
    public var libpqURL: String
    public var libpqDSN: String
    public var psql: String
    public var nodePostgres: String
    public var postgresJS: String
    public var prisma: String
    public var asyncpg: AsyncpgSettings
    public var sqlalchemyAsyncpg: String
    public var sqlalchemyPsycopg: String
    public var psycopg: String
    public var django: DjangoSettings
    public var jdbc: String
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case database, user, password, sslMode = "sslmode", poolMode = "pool_mode", poolSize = "pool_size"
        case libpqURL = "libpq_url", libpqDSN = "libpq_dsn", psql, nodePostgres = "node_postgres"
        case postgresJS = "postgres_js", prisma, asyncpg, sqlalchemyAsyncpg = "sqlalchemy_asyncpg"
        case sqlalchemyPsycopg = "sqlalchemy_psycopg", psycopg, django, jdbc, notes
    }

    /// asyncpg: a URL without sslmode plus its `ssl=` argument.
    public struct AsyncpgSettings: Encodable, Sendable {
        public var dsn: String
        public var ssl: String
        public var code: String
    }

    /// Django's `DATABASES["default"]`.
    public struct DjangoSettings: Encodable, Sendable {
        public var engine = "django.db.backends.postgresql"
        public var name: String
        public var user: String
        public var password: String
        public var host: String
        public var port: String
        public var options: [String: String]
        public var disableServerSideCursors: Bool

        enum CodingKeys: String, CodingKey {
            case engine = "ENGINE", name = "NAME", user = "USER", password = "PASSWORD", host = "HOST", port = "PORT"
            case options = "OPTIONS", disableServerSideCursors = "DISABLE_SERVER_SIDE_CURSORS"
        }
    }

    init(config: SluiceConfig, database: DatabaseConfig, host: String, port: Int, showPasswords: Bool) {
        let url = database.url
        self.database = database.name
        user = url.user
        let secret = url.password
        password = showPasswords ? (secret ?? "") : ClientURLs.passwordPlaceholder
        let tls = config.clientTLS(for: database)
        sslMode = tls == .disable ? "disable" : "require"
        let mode = config.poolMode(for: database)
        poolMode = mode.rawValue
        poolSize = config.poolSize(for: database)

        // The authority and path shared by every URL form; the placeholder stays readable (not encoded).
        let shownPassword = showPasswords ? secret.map(percentEncode) : ClientURLs.passwordPlaceholder
        var authority = percentEncode(url.user)
        if let shownPassword { authority += ":" + shownPassword }
        let base = "\(authority)@\(URLText.urlHost(host)):\(port)/\(percentEncode(database.name))"
        libpqURL = "postgresql://\(base)?sslmode=\(sslMode)"
        psql = "psql \(URLText.quoted(libpqURL))"

        var dsn = "host=\(URLText.libpqValue(host)) port=\(port) dbname=\(URLText.libpqValue(database.name)) "
            + "user=\(URLText.libpqValue(url.user))"
        if showPasswords ? secret != nil : true { dsn += " password=\(URLText.libpqValue(password))" }
        libpqDSN = dsn + " sslmode=\(sslMode)"
        psycopg = "psycopg.connect(\(URLText.quoted(libpqDSN)))"

        // node-postgres reads sslmode its own way (pg-connection-string): `require` verifies the certificate
        // against Node's public CAs (and `uselibpqcompat=true`, which restores libpq's meaning, only exists
        // from pg 8.15 on), so a private or self-signed certificate fails. `no-verify` is libpq's `require`
        // (encrypt, don't verify) in every node-postgres 8.x, with or without that flag.
        let nodeQuery = sslMode == "require" ? "sslmode=no-verify" : "sslmode=disable"
        nodePostgres = "new pg.Pool({ connectionString: \(URLText.quoted("postgresql://\(base)?\(nodeQuery)")) })"
        postgresJS = "postgres(\(URLText.quoted(libpqURL)))"
        prisma = "postgresql://\(base)?sslmode=\(sslMode)&connection_limit=\(poolSize)"
        let asyncpgSSL = sslMode
        let asyncpgDSN = "postgresql://\(base)"
        asyncpg = AsyncpgSettings(dsn: asyncpgDSN, ssl: asyncpgSSL,
                                  code: "await asyncpg.connect(\(URLText.quoted(asyncpgDSN)), ssl=\(URLText.quoted(asyncpgSSL)))")
        sqlalchemyAsyncpg = "postgresql+asyncpg://\(base)?ssl=\(sslMode)"
        sqlalchemyPsycopg = "postgresql+psycopg://\(base)?sslmode=\(sslMode)"
        django = DjangoSettings(name: database.name, user: url.user, password: password, host: host, port: String(port),
                                options: ["sslmode": sslMode], disableServerSideCursors: mode == .transaction)
        var jdbcQuery = "sslmode=\(sslMode)&user=\(percentEncode(url.user))"
        if let shownPassword { jdbcQuery += "&password=\(shownPassword)" }
        jdbc = "jdbc:postgresql://\(URLText.urlHost(host)):\(port)/\(percentEncode(database.name))?\(jdbcQuery)"
        notes = Self.notes(config: config, mode: mode, poolSize: poolSize, sslMode: sslMode, hasPassword: secret != nil)
    }

    private static func notes(config: SluiceConfig, mode: PoolMode, poolSize: Int, sslMode: String,
                              hasPassword: Bool) -> [String] {
        var notes: [String] = []
        if !hasPassword {
            notes.append("The database URL has no password: give the client the upstream role's password.")
        }
        if mode == .transaction {
            notes.append("Transaction mode: Sluice keeps prepared statements working, so Prisma needs no "
                + "pgbouncer=true, asyncpg no statement_cache_size=0, postgres.js no prepare: false and JDBC no "
                + "prepareThreshold=0. Session state (SET, advisory locks, LISTEN, WITH HOLD cursors) does not "
                + "outlive a transaction; Django needs DISABLE_SERVER_SIDE_CURSORS = True.")
            notes.append("Prisma Migrate takes advisory locks: point directUrl at the upstream itself (or at a "
                + "database with pool_mode = \"session\").")
        }
        notes.append("Prisma connection_limit: client connections to Sluice are cheap; Sluice shares \(poolSize) server "
            + "connection(s) among them. Keep app instances × connection_limit ≤ max_client_conn "
            + "(\(config.maxClientConn)); a value above pool_size only queues inside Sluice. Serverless functions: "
            + "connection_limit=1.")
        if sslMode == "require" {
            notes.append("sslmode=require encrypts without checking Sluice's certificate (node-postgres spells it "
                + "sslmode=no-verify); with its CA at hand use sslmode=verify-full&sslrootcert=/path/ca.crt, in "
                + "node-postgres's URL too (an ssl: { ca } option does not apply when the connectionString has an sslmode).")
        }
        return notes
    }
}
