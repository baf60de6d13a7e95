// ResultSet: the columns and text rows of one SHOW reply, encoded as PgBouncer encodes them.
import PostgresWire

/// PostgreSQL type OIDs the console's columns use (the four PgBouncer's `pktbuf_write_RowDescription` knows).
enum ColumnType: UInt32 {
    case text = 25
    case int8 = 20
    case int4 = 23
    case numeric = 1700
}

/// One column of a result: its name and PostgreSQL type.
struct Column {
    var name: String
    var type: ColumnType

    static func text(_ name: String) -> Column { Column(name: name, type: .text) }
    static func int4(_ name: String) -> Column { Column(name: name, type: .int4) }
    static func int8(_ name: String) -> Column { Column(name: name, type: .int8) }
    static func numeric(_ name: String) -> Column { Column(name: name, type: .numeric) }
}

/// One value of a row, written in PostgreSQL's text format; `.null` is SQL NULL.
enum Value {
    case text(String)
    case integer(Int64)
    case decimal(Double)
    case null

    /// An optional string: nil becomes NULL.
    static func text(_ value: String?) -> Value { value.map { .text($0) } ?? .null }
    static func int(_ value: Int) -> Value { .integer(Int64(value)) }
    static func int(_ value: UInt64) -> Value { .integer(Int64(clamping: value)) }
    static func bool(_ value: Bool) -> Value { .integer(value ? 1 : 0) }

    var wireText: String? {
        switch self {
        case .text(let text): return text
        case .integer(let number): return String(number)
        case .decimal(let number): return formatDecimal(number)
        case .null: return nil
        }
    }
}

/// A result set: RowDescription, one DataRow per row, then CommandComplete `SHOW`.
struct ResultSet {
    var columns: [Column]
    var rows: [[Value]] = []

    init(_ columns: [Column]) {
        self.columns = columns
    }

    mutating func append(_ row: [Value]) {
        precondition(row.count == columns.count, "invalid state: row has \(row.count) values for \(columns.count) columns")
        rows.append(row)
    }

    func encode(into writer: inout MessageWriter, tag: String = "SHOW") {
        writer.write(RowDescription(textColumns: columns.map { ($0.name, $0.type.rawValue) }))
        for row in rows {
            writer.write(DataRow(row.map(\.wireText)))
        }
        writer.write(CommandComplete(tag: tag))
    }
}

/// `12`, `0.5`, `1.234`: at most three decimals, no trailing zeros, no exponent.
func formatDecimal(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    let thousandths = (value * 1000).rounded()
    guard abs(thousandths) < 9e15 else { return String(Int64(clamping: Int64(value.rounded()))) }
    let whole = Int64(thousandths) / 1000
    var fraction = abs(Int64(thousandths) % 1000)
    if fraction == 0 { return String(whole) }
    var digits = 3
    while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
    let sign = thousandths < 0 && whole == 0 ? "-" : ""
    let padded = String(repeating: "0", count: digits - String(fraction).count) + String(fraction)
    return "\(sign)\(whole).\(padded)"
}
