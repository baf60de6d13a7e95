// CloseComplete ('3'): a Close succeeded.

public struct CloseComplete: BackendMessage, EmptyBodyMessage, Equatable {
    public static let typeCode = UInt8(ascii: "3")
    public init() {}
}
