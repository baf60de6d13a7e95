// ReplyDecoding: turns console reply bytes back into result tables and errors with PostgresWire.
import PostgresWire
import SluiceCore
import SluiceAdmin
import XCTest

/// One result set of a reply.
struct ResultTable {
    var columns: [RowDescription.Field]
    var rows: [[String?]]
    var tag: String

    var columnNames: [String] { columns.map(\.name) }

    func typeOID(_ column: String) -> UInt32? { columns.first { $0.name == column }?.typeOID }

    /// The values of `column`, one per row.
    func values(_ column: String) -> [String?] {
        guard let index = columnNames.firstIndex(of: column) else { return [] }
        return rows.map { $0[index] }
    }

    /// The row whose first column is `key`, as a column → value dictionary.
    func row(_ key: String) -> [String: String?]? {
        guard let row = rows.first(where: { $0.first == key }) else { return nil }
        return Dictionary(uniqueKeysWithValues: zip(columnNames, row))
    }
}

/// Everything a reply said, in order.
enum ReplyPart {
    case table(ResultTable)
    case completed(String)
    case error(ErrorResponse)
    case emptyQuery
}

func decodeReply(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> [ReplyPart] {
    var decoder = MessageDecoder(maxPacketSize: 1 << 24)
    decoder.append(bytes)
    var parts: [ReplyPart] = []
    var current: ResultTable?
    while let (type, body) = try decoder.next() {
        switch type {
        case RowDescription.typeCode:
            current = ResultTable(columns: try RowDescription.decode(body: body).fields, rows: [], tag: "")
        case DataRow.typeCode:
            let row = try DataRow.decode(body: body).columns.map { $0.map { String(decoding: $0, as: UTF8.self) } }
            XCTAssertNotNil(current, "DataRow without RowDescription", file: file, line: line)
            current?.rows.append(row)
        case CommandComplete.typeCode:
            let tag = try CommandComplete.decode(body: body).tag
            if var table = current {
                table.tag = tag
                parts.append(.table(table))
                current = nil
            } else {
                parts.append(.completed(tag))
            }
        case ErrorResponse.typeCode:
            parts.append(.error(try ErrorResponse.decode(body: body)))
        case EmptyQueryResponse.typeCode:
            parts.append(.emptyQuery)
        default:
            XCTFail("unexpected message type \(UnicodeScalar(type))", file: file, line: line)
        }
    }
    XCTAssertEqual(decoder.bufferedByteCount, 0, "trailing bytes", file: file, line: line)
    XCTAssertNil(current, "result without CommandComplete", file: file, line: line)
    return parts
}

extension AdminConsoleHandler {
    /// Runs `query` and returns its only result table (failing the test otherwise).
    func table(_ query: String, privilege: AdminPrivilege = .admin, snapshot: ProxySnapshot = Fixtures.snapshot(),
               file: StaticString = #filePath, line: UInt = #line) throws -> ResultTable {
        let reply = execute(query: query, privilege: privilege, snapshot: snapshot)
        XCTAssertNil(reply.action, file: file, line: line)
        let parts = try decodeReply(reply.bytes, file: file, line: line)
        guard parts.count == 1, case .table(let table) = parts[0] else {
            XCTFail("expected one result table, got \(parts)", file: file, line: line)
            return ResultTable(columns: [], rows: [], tag: "")
        }
        XCTAssertEqual(table.tag, "SHOW", file: file, line: line)
        return table
    }

    /// Runs `query` and returns its only error (failing the test otherwise).
    func error(_ query: String, privilege: AdminPrivilege = .admin, snapshot: ProxySnapshot = Fixtures.snapshot(),
               file: StaticString = #filePath, line: UInt = #line) throws -> ErrorResponse? {
        let reply = execute(query: query, privilege: privilege, snapshot: snapshot)
        XCTAssertNil(reply.action, file: file, line: line)
        let parts = try decodeReply(reply.bytes, file: file, line: line)
        guard parts.count == 1, case .error(let error) = parts[0] else {
            XCTFail("expected one error, got \(parts)", file: file, line: line)
            return nil
        }
        XCTAssertEqual(error.severity, "ERROR", file: file, line: line)
        return error
    }
}

/// PostgreSQL type OIDs, as the console writes them.
enum OID {
    static let text: UInt32 = 25
    static let int8: UInt32 = 20
    static let int4: UInt32 = 23
    static let numeric: UInt32 = 1700
}
