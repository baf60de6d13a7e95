// Sync ('S'): ends an extended-query cycle; the server answers with ReadyForQuery.

public struct Sync: FrontendMessage, EmptyBodyMessage, Equatable {
    public static let typeCode = UInt8(ascii: "S")
    public init() {}
}
