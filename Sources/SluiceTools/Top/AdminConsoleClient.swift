// AdminConsoleClient: a libpq connection to Sluice's admin console that runs SHOW commands with a time limit.
import CLibpq
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One console session (`dbname=sluice`). Each query is sent asynchronously and given up after
/// `timeout` seconds, so a stuck proxy cannot freeze `sluice top`; the connection is then dropped.
final class AdminConsoleClient {
    private var connection: OpaquePointer?
    private let url: String
    private let timeout: Double

    init(url: String, timeout: Double) {
        self.url = url
        self.timeout = timeout
    }

    deinit { disconnect() }

    var isConnected: Bool { connection.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// `host:port` of the connection (the socket directory for a Unix socket).
    var endpoint: String {
        guard let connection, let host = PQhost(connection) else { return "?" }
        let port = PQport(connection).map { String(cString: $0) } ?? ""
        return String(cString: host) + (port.isEmpty ? "" : ":" + port)
    }

    var host: String? { connection.flatMap { PQhost($0) }.map { String(cString: $0) } }

    func disconnect() {
        if let connection { PQfinish(connection) }
        connection = nil
    }

    /// Connects with `url` (a URL or conninfo string; libpq's PG* variables fill in the rest).
    func connect() -> ProbeFailure? {
        disconnect()
        // Earlier keywords are defaults the URL may override (expand_dbname).
        let pairs = [("connect_timeout", String(max(2, Int(timeout.rounded(.up))))),
                     ("fallback_application_name", "sluice-top"), ("dbname", url)]
        switch libpqConnect(pairs, expandDBName: true) {
        case .success(let pointer):
            connection = pointer
            return nil
        case .failure(let failure):
            return failure
        }
    }

    /// The rows of `sql` as column name → text (NULL as ""), or the reason there are none.
    func rows(_ sql: String) -> Result<[[String: String]], ProbeFailure> {
        guard let connection else { return .failure(ProbeFailure("not connected")) }
        guard PQsendQuery(connection, sql) == 1 else { return fail(connection) }
        let deadline = Date().addingTimeInterval(timeout)
        var results: [OpaquePointer] = []
        defer { results.forEach { PQclear($0) } }
        while true {
            while PQisBusy(connection) != 0 {
                var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
                let wait = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
                guard poll(&descriptor, 1, wait) == 1 else {
                    disconnect()
                    return .failure(ProbeFailure("\(sql): no answer within \(String(format: "%g", timeout)) s"))
                }
                guard PQconsumeInput(connection) == 1 else { return fail(connection) }
            }
            guard let result = PQgetResult(connection) else { break }
            results.append(result)
        }
        guard let result = results.last else { return .failure(ProbeFailure("\(sql): no result")) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK else {
            return .failure(ProbeFailure("\(sql): " + String(cString: PQresultErrorMessage(result)).trimmed))
        }
        let names = (0..<PQnfields(result)).map { String(cString: PQfname(result, $0)) }
        return .success((0..<PQntuples(result)).map { row in
            var values: [String: String] = [:]
            for (column, name) in names.enumerated() {
                values[name] = PQgetisnull(result, row, Int32(column)) != 0
                    ? "" : String(cString: PQgetvalue(result, row, Int32(column)))
            }
            return values
        })
    }

    private func fail(_ connection: OpaquePointer) -> Result<[[String: String]], ProbeFailure> {
        let message = String(cString: PQerrorMessage(connection)).trimmed
        if PQstatus(connection) != CONNECTION_OK { disconnect() }
        return .failure(ProbeFailure(message.isEmpty ? "connection lost" : message))
    }
}
