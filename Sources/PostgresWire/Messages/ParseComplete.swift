// ParseComplete ('1'): a Parse succeeded.

public struct ParseComplete: BackendMessage, EmptyBodyMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "1") }
    public init() {}
}
