// DataRow ('D'): one row of a result; nil columns are SQL NULL.

public struct DataRow: BackendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "D") }
    public var columns: [[UInt8]?]

    public init(columns: [[UInt8]?]) {
        self.columns = columns
    }

    /// Text-format values as UTF-8; nil is SQL NULL.
    public init(_ values: [String?]) {
        columns = values.map { $0.map { Array($0.utf8) } }
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendInt16(Int16(truncatingIfNeeded: columns.count))
        for column in columns {
            if let column {
                buffer.appendInt32(Int32(truncatingIfNeeded: column.count))
                buffer.append(contentsOf: column)
            } else {
                buffer.appendInt32(-1)
            }
        }
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> DataRow {
        var reader = ByteReader(body, context: "DataRow")
        let count = try reader.readCount16()
        var columns: [[UInt8]?] = []
        columns.reserveCapacity(min(count, reader.remainingCount / 4))
        for _ in 0..<count {
            let length = try reader.readInt32()
            if length == -1 {
                columns.append(nil)
            } else {
                guard length >= 0 else { throw reader.malformed("negative column length \(length)") }
                columns.append(Array(try reader.readBytes(Int(length))))
            }
        }
        try reader.expectEnd()
        return DataRow(columns: columns)
    }
}
