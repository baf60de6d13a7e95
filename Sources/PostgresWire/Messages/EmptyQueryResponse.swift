// EmptyQueryResponse ('I'): the query string was empty.

public struct EmptyQueryResponse: BackendMessage, EmptyBodyMessage, Equatable {
    public static let typeCode = UInt8(ascii: "I")
    public init() {}
}
