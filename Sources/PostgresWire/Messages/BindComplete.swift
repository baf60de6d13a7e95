// BindComplete ('2'): a Bind succeeded.

public struct BindComplete: BackendMessage, EmptyBodyMessage, Equatable {
    public static let typeCode = UInt8(ascii: "2")
    public init() {}
}
