// Terminate ('X'): the client is closing the connection.

public struct Terminate: FrontendMessage, EmptyBodyMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "X") }
    public init() {}
}
