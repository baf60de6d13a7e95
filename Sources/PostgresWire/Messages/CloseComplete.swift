// CloseComplete ('3'): a Close succeeded.

public struct CloseComplete: BackendMessage, EmptyBodyMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "3") }
    public init() {}
}
