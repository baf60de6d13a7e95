// NegotiateProtocolVersion ('v'): the newest minor version the server speaks and the options it ignored.

public struct NegotiateProtocolVersion: BackendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "v") }
    /// Newest minor protocol version supported for the requested major version.
    public var newestMinorVersion: Int32
    /// Startup options (`_pq_.*`) the server did not recognize.
    public var unrecognizedOptions: [String]

    public init(newestMinorVersion: Int32, unrecognizedOptions: [String] = []) {
        self.newestMinorVersion = newestMinorVersion
        self.unrecognizedOptions = unrecognizedOptions
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendInt32(newestMinorVersion)
        buffer.appendInt32(Int32(truncatingIfNeeded: unrecognizedOptions.count))
        for option in unrecognizedOptions { buffer.appendCString(option) }
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> NegotiateProtocolVersion {
        var reader = ByteReader(body, context: "NegotiateProtocolVersion")
        let newestMinorVersion = try reader.readInt32()
        let count = Int(try reader.readInt32())
        // Each option takes at least its NUL byte, which bounds a lying count.
        guard count >= 0, count <= reader.remainingCount else { throw reader.malformed("bad option count \(count)") }
        var options: [String] = []
        for _ in 0..<count { options.append(try reader.readCString()) }
        try reader.expectEnd()
        return NegotiateProtocolVersion(newestMinorVersion: newestMinorVersion, unrecognizedOptions: options)
    }
}
