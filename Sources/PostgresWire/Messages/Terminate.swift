// Terminate ('X'): the client is closing the connection.

public struct Terminate: FrontendMessage, EmptyBodyMessage, Equatable {
    public static let typeCode = UInt8(ascii: "X")
    public init() {}
}
