// CopyDone ('c'): the COPY data stream is finished (sent by either side).

public struct CopyDone: BackendMessage, FrontendMessage, EmptyBodyMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "c") }
    public init() {}
}
