// CopyData ('d'): a chunk of a COPY data stream (sent by either side).

public struct CopyData: BackendMessage, FrontendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "d") }
    public var data: ArraySlice<UInt8>

    public init(data: ArraySlice<UInt8>) {
        self.data = data
    }

    public init(data: [UInt8]) {
        self.data = data[...]
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: data)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> CopyData {
        CopyData(data: body)
    }
}
