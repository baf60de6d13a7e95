// ErrorResponse ('E'): an error; with severity FATAL or PANIC the server closes the connection.

public struct ErrorResponse: ErrorFieldsMessage {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "E") }
    public var fields: ErrorFields

    public init(fields: ErrorFields) {
        self.fields = fields
    }
}
