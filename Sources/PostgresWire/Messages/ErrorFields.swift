// ErrorFields: the ordered (code byte, value) fields ErrorResponse and NoticeResponse carry.

/// The fields of an ErrorResponse or NoticeResponse, in wire order.
public struct ErrorFields: Sendable, Equatable {
    public var fields: [(code: UInt8, value: String)]

    public init(_ fields: [(UInt8, String)] = []) {
        self.fields = fields.map { (code: $0.0, value: $0.1) }
    }

    /// The first field with this code byte, e.g. `self[UInt8(ascii: "C")]`.
    public subscript(code: UInt8) -> String? {
        fields.first { $0.code == code }?.value
    }

    /// Never-localized severity ('V', PostgreSQL 9.6+), falling back to 'S' for older servers.
    public var severity: String? { self[UInt8(ascii: "V")] ?? self[UInt8(ascii: "S")] }
    /// Severity as the server's lc_messages spells it ('S').
    public var localizedSeverity: String? { self[UInt8(ascii: "S")] }
    /// SQLSTATE ('C').
    public var code: String? { self[UInt8(ascii: "C")] }
    /// Primary message ('M').
    public var message: String? { self[UInt8(ascii: "M")] }
    /// Detail ('D').
    public var detail: String? { self[UInt8(ascii: "D")] }
    /// Hint ('H').
    public var hint: String? { self[UInt8(ascii: "H")] }

    func encode(into buffer: inout [UInt8]) {
        for field in fields where field.code != 0 {
            buffer.append(field.code)
            buffer.appendCString(field.value)
        }
        buffer.append(0)
    }

    /// Values are decoded leniently (invalid UTF-8 becomes U+FFFD): the server writes them in the
    /// client_encoding, and the SQLSTATE must stay readable whatever that is.
    static func decode(body: ArraySlice<UInt8>, context: String) throws(WireError) -> ErrorFields {
        var reader = ByteReader(body, context: context)
        var fields = ErrorFields()
        while true {
            let code = try reader.readUInt8()
            if code == 0 { break }
            fields.fields.append((code, try reader.readLossyCString()))
        }
        try reader.expectEnd()
        return fields
    }

    public static func == (lhs: ErrorFields, rhs: ErrorFields) -> Bool {
        lhs.fields.count == rhs.fields.count && zip(lhs.fields, rhs.fields).allSatisfy { $0 == $1 }
    }
}

/// Severity names as PostgreSQL writes them in the 'S' and 'V' fields.
public enum Severity: String, Sendable, Equatable {
    case error = "ERROR", fatal = "FATAL", panic = "PANIC", warning = "WARNING", notice = "NOTICE"
    case debug = "DEBUG", info = "INFO", log = "LOG"
}

/// ErrorResponse and NoticeResponse: the same layout under two type codes.
public protocol ErrorFieldsMessage: BackendMessage, Equatable {
    var fields: ErrorFields { get }
    init(fields: ErrorFields)
}

extension ErrorFieldsMessage {
    /// Writes S, V, C, M and, when given, D and H, as PostgreSQL does.
    public init(severity: Severity, code: String, message: String, detail: String? = nil, hint: String? = nil) {
        var list: [(UInt8, String)] = [
            (UInt8(ascii: "S"), severity.rawValue), (UInt8(ascii: "V"), severity.rawValue),
            (UInt8(ascii: "C"), code), (UInt8(ascii: "M"), message),
        ]
        if let detail { list.append((UInt8(ascii: "D"), detail)) }
        if let hint { list.append((UInt8(ascii: "H"), hint)) }
        self.init(fields: ErrorFields(list))
    }

    public var severity: String? { fields.severity }
    public var code: String? { fields.code }
    public var message: String? { fields.message }
    public var detail: String? { fields.detail }
    public var hint: String? { fields.hint }

    public func encodeBody(into buffer: inout [UInt8]) {
        fields.encode(into: &buffer)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> Self {
        Self(fields: try ErrorFields.decode(body: body, context: "\(Self.self)"))
    }
}
