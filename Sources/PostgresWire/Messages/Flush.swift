// Flush ('H'): asks the server to send what it has buffered.

public struct Flush: FrontendMessage, EmptyBodyMessage, Equatable {
    public static let typeCode = UInt8(ascii: "H")
    public init() {}
}
