// Bind ('B'): binds parameters to a prepared statement; everything after the names stays raw bytes.

/// Bind, parsed only as far as a pooler needs: the portal and statement names. The parameter
/// formats, values and result formats are kept as `rest` so the message can be re-encoded with
/// another statement name without understanding them.
public struct Bind: FrontendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "B") }
    /// Empty for the unnamed portal.
    public var portalName: String
    /// Empty for the unnamed statement.
    public var statementName: String
    /// Parameter format codes, parameter values and result format codes, as sent.
    public var rest: ArraySlice<UInt8>

    public init(portalName: String, statementName: String, rest: ArraySlice<UInt8>) {
        self.portalName = portalName
        self.statementName = statementName
        self.rest = rest
    }

    /// Builds `rest` from parameter format codes, values (nil is SQL NULL) and result format codes.
    public init(portalName: String, statementName: String, parameterFormats: [Int16] = [],
                parameters: [[UInt8]?], resultFormats: [Int16] = []) {
        var rest: [UInt8] = []
        rest.appendInt16(Int16(truncatingIfNeeded: parameterFormats.count))
        for format in parameterFormats { rest.appendInt16(format) }
        rest.appendInt16(Int16(truncatingIfNeeded: parameters.count))
        for parameter in parameters {
            if let parameter {
                rest.appendInt32(Int32(truncatingIfNeeded: parameter.count))
                rest.append(contentsOf: parameter)
            } else {
                rest.appendInt32(-1)
            }
        }
        rest.appendInt16(Int16(truncatingIfNeeded: resultFormats.count))
        for format in resultFormats { rest.appendInt16(format) }
        self.init(portalName: portalName, statementName: statementName, rest: rest[...])
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendCString(portalName)
        buffer.appendCString(statementName)
        buffer.append(contentsOf: rest)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> Bind {
        var reader = ByteReader(body, context: "Bind")
        let portalName = try reader.readCString()
        let statementName = try reader.readCString()
        return Bind(portalName: portalName, statementName: statementName, rest: reader.readRemaining())
    }
}
