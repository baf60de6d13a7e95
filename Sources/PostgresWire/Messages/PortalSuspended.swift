// PortalSuspended ('s'): Execute hit its row limit before the portal finished.

public struct PortalSuspended: BackendMessage, EmptyBodyMessage, Equatable {
    public static let typeCode = UInt8(ascii: "s")
    public init() {}
}
