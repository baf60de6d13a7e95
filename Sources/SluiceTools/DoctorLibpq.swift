// DoctorLibpq: a libpq connection made from an upstream URL the way Sluice would connect, for `sluice doctor`.
import CLibpq
import Foundation
import SluiceConfig

/// `PQconnectdbParams` with keyword/value `parameters` (`expandDBName`: a `dbname` value may be a
/// URL or conninfo string whose settings override the earlier keywords). The open connection, or
/// libpq's error message (the failed connection is finished).
func libpqConnect(_ parameters: [(String, String)], expandDBName: Bool) -> Result<OpaquePointer, ProbeFailure> {
    var keywords = parameters.map { strdup($0.0) }
    var values = parameters.map { strdup($0.1) }
    defer { (keywords + values).forEach { free($0) } }
    keywords.append(nil)
    values.append(nil)
    let pointer: OpaquePointer? = keywords.map { UnsafePointer($0) }.withUnsafeBufferPointer { keywordBuffer in
        values.map { UnsafePointer($0) }.withUnsafeBufferPointer { valueBuffer in
            PQconnectdbParams(keywordBuffer.baseAddress, valueBuffer.baseAddress, expandDBName ? 1 : 0)
        }
    }
    guard let pointer else { return .failure(ProbeFailure("out of memory")) }
    guard PQstatus(pointer) == CONNECTION_OK else {
        let message = String(cString: PQerrorMessage(pointer)).trimmed
        PQfinish(pointer)
        return .failure(ProbeFailure(message))
    }
    return .success(pointer)
}

/// An open libpq connection; closed when released.
final class LibpqConnection {
    private let connection: OpaquePointer

    private init(_ connection: OpaquePointer) {
        self.connection = connection
    }

    deinit { PQfinish(connection) }

    /// Connects with keyword/value `parameters`; the connection, or libpq's error message.
    static func open(_ parameters: [(String, String)]) -> Result<LibpqConnection, ProbeFailure> {
        libpqConnect(parameters, expandDBName: false).map(LibpqConnection.init)
    }

    /// `TLSv1.3` and the like, or nil when the connection is not encrypted.
    var tlsProtocol: String? {
        guard PQsslInUse(connection) != 0 else { return nil }
        return PQsslAttribute(connection, "protocol").map { String(cString: $0) } ?? "TLS"
    }

    /// The first row of `sql`'s result, or libpq's error.
    func firstRow(_ sql: String) -> Result<[String?], ProbeFailure> {
        guard let result = PQexec(connection, sql) else { return .failure(ProbeFailure("out of memory")) }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK else {
            return .failure(ProbeFailure(String(cString: PQresultErrorMessage(result)).trimmed))
        }
        guard PQntuples(result) > 0 else { return .success([]) }
        return .success((0..<PQnfields(result)).map { column in
            PQgetisnull(result, 0, column) != 0 ? nil : String(cString: PQgetvalue(result, 0, column))
        })
    }

    /// libpq's keyword/value parameters for `url`, as Sluice's own connection would use them.
    static func parameters(for url: UpstreamURL, timeout: Double) -> [(String, String)] {
        var list: [(String, String)] = [
            ("host", url.host), ("port", String(url.port)), ("dbname", url.database), ("user", url.user),
            ("sslmode", url.sslMode.rawValue),
            ("connect_timeout", String(max(2, Int(timeout.rounded(.up))))),
            ("application_name", url.parameters["application_name"] ?? "sluice-doctor"),
        ]
        if let password = url.password { list.append(("password", password)) }
        if let options = url.options { list.append(("options", options)) }
        // Sluice verifies against the system store when sslrootcert is absent or "system"; libpq < 16 knows no "system".
        let verifies = url.sslMode == .verifyCA || url.sslMode == .verifyFull
        let rootCertificate = url.parameters["sslrootcert"]
        if verifies, rootCertificate == nil || rootCertificate == "system" {
            if PQlibVersion() >= 160_000 {
                list.append(("sslrootcert", "system"))
            } else if let bundle = DoctorProbe.systemCABundle() {
                list.append(("sslrootcert", bundle))
            }
        } else if let rootCertificate, rootCertificate != "system" {
            list.append(("sslrootcert", rootCertificate))
        }
        let known = DoctorProbe.libpqKeywords
        for (name, value) in url.parameters.sorted(by: { $0.key < $1.key })
        where !["sslrootcert", "application_name"].contains(name) && known.contains(name) {
            list.append((name, value))
        }
        return list
    }
}
