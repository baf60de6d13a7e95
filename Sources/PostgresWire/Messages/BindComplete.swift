// BindComplete ('2'): a Bind succeeded.

public struct BindComplete: BackendMessage, EmptyBodyMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "2") }
    public init() {}
}
