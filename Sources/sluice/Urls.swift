// Urls: `sluice urls` prints, per database, what to paste into psql, drivers and ORMs to reach this Sluice.
import ArgumentParser
import Foundation
import SluiceConfig
import SluiceTools

struct Urls: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "urls",
        abstract: "Print connection URLs and settings for common clients, per database.",
        discussion: """
            For psql/libpq, psycopg, node-postgres, postgres.js, Prisma, asyncpg, SQLAlchemy, Django and JDBC. \
            Clients log in as each database URL's user; sslmode is require when Sluice offers TLS to clients, \
            else disable.
            """)

    @Option(name: .shortAndLong, help: "Path of the TOML config file (or SLUICE_CONFIG).")
    var config: String?

    @Option(help: "Host clients use to reach Sluice (default: the first listen address).")
    var host: String?

    @Option(help: "Port clients use to reach Sluice (default: the first listen address's).")
    var port: Int?

    @Flag(help: "Print the passwords instead of <password>.")
    var showPasswords = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let loaded: SluiceConfig
        do { loaded = try loadConfig(path: config) } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
        let urls = ClientURLs(config: loaded, host: host, port: port, showPasswords: showPasswords)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(urls), as: UTF8.self))
        } else {
            print(urls.text, terminator: "")
        }
    }
}
