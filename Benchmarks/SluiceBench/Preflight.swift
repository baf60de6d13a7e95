// Preflight: one blocking connection per target before any load, so a bad URL or a down server fails fast.
import CLibpq
import Foundation

enum Preflight {
    /// Connects once and, for the pgbench workloads, reads the scale (`count(*)` of `pgbench_branches`).
    /// Throws a `UsageFailure` that names the target (password hidden) and quotes libpq.
    static func check(_ target: Target, parameters: ConnectionParameters, kind: WorkloadKind) throws -> Int {
        let connection = parameters.connectBlocking()
        defer { PQfinish(connection) }
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            throw UsageFailure("could not connect to \(target.name) (\(target.redactedURL)): "
                               + target.redact(libpqErrorMessage(connection)))
        }
        guard kind.needsPgbenchTables else { return 1 }
        let result = PQexec(connection, "SELECT count(*) FROM pgbench_branches")
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK, PQntuples(result) == 1,
              let text = PQgetvalue(result, 0, 0), let scale = Int(String(cString: text)), scale > 0 else {
            let message = result.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) } ?? ""
            let reason = message.isEmpty ? "pgbench_branches is empty" : message
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw UsageFailure("\(target.name) (\(target.redactedURL)) has no pgbench tables "
                               + "(run `pgbench -i` first): \(target.redact(reason))")
        }
        return scale
    }
}
