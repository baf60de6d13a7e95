// ImportPgBouncer: `sluice import-pgbouncer` converts pgbouncer.ini (+ userlist.txt) into a Sluice config.
import ArgumentParser
import Foundation
import SluiceConfig
import SluiceTools

struct ImportPgBouncer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-pgbouncer",
        abstract: "Convert a pgbouncer.ini (and userlist.txt) into a Sluice TOML config.",
        discussion: """
            Writes the TOML to --output (or standard output) and lists every setting that could not be \
            carried over, and why. Exits 1 when the result does not pass check-config.
            """)

    @Argument(help: "PgBouncer's configuration file.")
    var ini: String

    @Argument(help: "PgBouncer's auth_file (default: the ini's auth_file, when it can be read).")
    var userlist: String?

    @Option(name: .shortAndLong, help: "Write the TOML here instead of standard output.")
    var output: String?

    func run() throws {
        let parsed: PgBouncerINI
        do { parsed = try PgBouncerINI.load(path: ini) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
        var users: [(user: String, password: String)]?
        var authFile = userlist
        if authFile == nil, let configured = parsed.settings.last(where: { $0.section == "pgbouncer" && $0.key == "auth_file" }) {
            let path = configured.value.hasPrefix("/") ? configured.value
                : URL(fileURLWithPath: ini).deletingLastPathComponent().appendingPathComponent(configured.value).path
            if FileManager.default.isReadableFile(atPath: path) { authFile = path } else {
                FileHandle.standardError.write(Data("note: auth_file \(configured.value) cannot be read here; pass userlist.txt as the second argument\n".utf8))
            }
        }
        if let authFile {
            guard let text = try? String(contentsOfFile: authFile, encoding: .utf8) else {
                FileHandle.standardError.write(Data("\(authFile): cannot read\n".utf8))
                throw ExitCode(1)
            }
            users = PgBouncerUserlist.parse(text)
        }
        let result = PgBouncerImport.convert(ini: parsed, userlist: users, source: URL(fileURLWithPath: ini).lastPathComponent)
        if let output {
            do { try result.toml.write(toFile: output, atomically: true, encoding: .utf8) } catch {
                FileHandle.standardError.write(Data("\(output): cannot write: \(error.localizedDescription)\n".utf8))
                throw ExitCode(1)
            }
            print("Wrote \(output).")
            print(result.report, terminator: "")
        } else {
            print(result.toml, terminator: "")
            FileHandle.standardError.write(Data(result.report.utf8))
        }
        if !result.validationErrors.isEmpty { throw ExitCode(1) }
    }
}
