// Flush ('H'): asks the server to send what it has buffered.

public struct Flush: FrontendMessage, EmptyBodyMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "H") }
    public init() {}
}
