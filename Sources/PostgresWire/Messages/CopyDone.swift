// CopyDone ('c'): the COPY data stream is finished (sent by either side).

public struct CopyDone: BackendMessage, FrontendMessage, EmptyBodyMessage, Equatable {
    public static let typeCode = UInt8(ascii: "c")
    public init() {}
}
