// SASLResponse ('p'): a later SASL message from the client (for SCRAM, client-final).

public struct SASLResponse: FrontendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "p") }
    public var data: [UInt8]

    public init(data: [UInt8]) {
        self.data = data
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: data)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> SASLResponse {
        SASLResponse(data: Array(body))
    }
}
