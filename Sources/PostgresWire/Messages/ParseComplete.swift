// ParseComplete ('1'): a Parse succeeded.

public struct ParseComplete: BackendMessage, EmptyBodyMessage, Equatable {
    public static let typeCode = UInt8(ascii: "1")
    public init() {}
}
