// CopyOutResponse ('H'): the server starts sending COPY TO STDOUT data.

public struct CopyOutResponse: CopyResponse {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "H") }
    /// 0 text, 1 binary.
    public var format: Int8
    public var columnFormats: [Int16]

    public init(format: Int8, columnFormats: [Int16]) {
        self.format = format
        self.columnFormats = columnFormats
    }
}
