// PortalSuspended ('s'): Execute hit its row limit before the portal finished.

public struct PortalSuspended: BackendMessage, EmptyBodyMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "s") }
    public init() {}
}
