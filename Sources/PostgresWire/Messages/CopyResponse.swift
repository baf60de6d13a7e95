// CopyResponse: the layout CopyInResponse, CopyOutResponse and CopyBothResponse share.

/// Overall format (0 text, 1 binary) and one format code per column.
public protocol CopyResponse: BackendMessage, Equatable {
    var format: Int8 { get }
    var columnFormats: [Int16] { get }
    init(format: Int8, columnFormats: [Int16])
}

extension CopyResponse {
    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.append(UInt8(bitPattern: format))
        buffer.appendInt16(Int16(truncatingIfNeeded: columnFormats.count))
        for columnFormat in columnFormats { buffer.appendInt16(columnFormat) }
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> Self {
        var reader = ByteReader(body, context: "\(Self.self)")
        let format = Int8(bitPattern: try reader.readUInt8())
        let count = try reader.readCount16()
        var columnFormats: [Int16] = []
        columnFormats.reserveCapacity(min(count, reader.remainingCount / 2))
        for _ in 0..<count { columnFormats.append(try reader.readInt16()) }
        try reader.expectEnd()
        return Self(format: format, columnFormats: columnFormats)
    }
}
