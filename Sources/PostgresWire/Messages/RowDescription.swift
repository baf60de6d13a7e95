// RowDescription ('T'): the columns of the rows that follow.

public struct RowDescription: BackendMessage, Equatable {
    public struct Field: Sendable, Equatable {
        public var name: String
        /// OID of the table the column comes from, or 0.
        public var tableOID: UInt32
        /// Attribute number of the column in that table, or 0.
        public var columnAttribute: Int16
        public var typeOID: UInt32
        /// pg_type.typlen: negative for variable-width types.
        public var typeSize: Int16
        /// pg_attribute.atttypmod, -1 when not applicable.
        public var typeModifier: Int32
        /// 0 text, 1 binary.
        public var format: Int16

        public init(name: String, tableOID: UInt32 = 0, columnAttribute: Int16 = 0, typeOID: UInt32,
                    typeSize: Int16, typeModifier: Int32 = -1, format: Int16 = 0) {
            self.name = name
            self.tableOID = tableOID
            self.columnAttribute = columnAttribute
            self.typeOID = typeOID
            self.typeSize = typeSize
            self.typeModifier = typeModifier
            self.format = format
        }
    }

    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "T") }
    public var fields: [Field]

    public init(fields: [Field]) {
        self.fields = fields
    }

    /// Text-format columns with defaults as PostgreSQL sends them for computed columns: table 0,
    /// attribute 0, typmod -1, size 8 for int8 (20), 4 for int4 (23), 2 for int2 (21), 1 for bool (16), else -1.
    public init(textColumns: [(name: String, typeOID: UInt32)]) {
        fields = textColumns.map { column in
            let size: Int16 = switch column.typeOID {
            case 20: 8
            case 23: 4
            case 21: 2
            case 16: 1
            default: -1
            }
            return Field(name: column.name, typeOID: column.typeOID, typeSize: size)
        }
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendInt16(Int16(truncatingIfNeeded: fields.count))
        for field in fields {
            buffer.appendCString(field.name)
            buffer.appendUInt32(field.tableOID)
            buffer.appendInt16(field.columnAttribute)
            buffer.appendUInt32(field.typeOID)
            buffer.appendInt16(field.typeSize)
            buffer.appendInt32(field.typeModifier)
            buffer.appendInt16(field.format)
        }
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> RowDescription {
        var reader = ByteReader(body, context: "RowDescription")
        let count = try reader.readCount16()
        var fields: [Field] = []
        fields.reserveCapacity(min(count, reader.remainingCount / 19))
        for _ in 0..<count {
            fields.append(Field(name: try reader.readCString(), tableOID: try reader.readUInt32(),
                                columnAttribute: try reader.readInt16(), typeOID: try reader.readUInt32(),
                                typeSize: try reader.readInt16(), typeModifier: try reader.readInt32(),
                                format: try reader.readInt16()))
        }
        try reader.expectEnd()
        return RowDescription(fields: fields)
    }
}
