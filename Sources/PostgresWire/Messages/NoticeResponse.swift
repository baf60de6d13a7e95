// NoticeResponse ('N'): a warning or notice; the session goes on.

public struct NoticeResponse: ErrorFieldsMessage {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "N") }
    public var fields: ErrorFields

    public init(fields: ErrorFields) {
        self.fields = fields
    }
}
