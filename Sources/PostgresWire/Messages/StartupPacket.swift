// StartupPacket: the untyped first packet (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest).

/// The first packet a client sends; it has no type byte, only a length and a protocol code.
public enum StartupPacket: Sendable, Equatable {
    /// StartupMessage. Any version that is not a special request code lands here; the caller
    /// refuses what it cannot speak (major version 3 required; a minor above 0 gets NegotiateProtocolVersion).
    /// Parameters are parsed only for major version 3 and are empty otherwise.
    case startup(protocolVersion: UInt32, parameters: StartupParameters)
    /// SSLRequest (code 80877103): the client asks for TLS.
    case sslRequest
    /// GSSENCRequest (code 80877104): the client asks for GSSAPI encryption.
    case gssEncRequest
    /// CancelRequest (code 80877102, 16-byte packet), sent on a new connection.
    case cancelRequest(processID: Int32, secretKey: UInt32)

    /// Protocol 3.0, `196608`.
    public static let protocolVersion3: UInt32 = 3 << 16
    public static let sslRequestCode: UInt32 = 80_877_103
    public static let gssEncRequestCode: UInt32 = 80_877_104
    public static let cancelRequestCode: UInt32 = 80_877_102

    /// Major part of a protocol version (`version >> 16`).
    public static func majorVersion(_ version: UInt32) -> UInt32 { version >> 16 }
    /// Minor part of a protocol version (`version & 0xFFFF`).
    public static func minorVersion(_ version: UInt32) -> UInt32 { version & 0xFFFF }

    /// Decodes everything after the 4-byte length field.
    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> StartupPacket {
        var reader = ByteReader(body, context: "StartupPacket")
        let code = try reader.readUInt32()
        switch code {
        case sslRequestCode, gssEncRequestCode:
            try reader.expectEnd()
            return code == sslRequestCode ? .sslRequest : .gssEncRequest
        case cancelRequestCode:
            let processID = try reader.readInt32()
            let secretKey = try reader.readUInt32()
            try reader.expectEnd()
            return .cancelRequest(processID: processID, secretKey: secretKey)
        default:
            guard majorVersion(code) == 3 else { return .startup(protocolVersion: code, parameters: StartupParameters()) }
            var parameters = StartupParameters()
            while true {
                let name = try reader.readCString()
                if name.isEmpty { break }
                let value = try reader.readCString()
                parameters.pairs.append((name, value))
            }
            try reader.expectEnd()
            return .startup(protocolVersion: code, parameters: parameters)
        }
    }

    /// Appends the whole packet, length field included.
    public func encode(into buffer: inout [UInt8]) {
        let lengthIndex = buffer.count
        buffer.appendInt32(0)
        switch self {
        case .startup(let version, let parameters):
            buffer.appendUInt32(version)
            for (name, value) in parameters.pairs {
                buffer.appendCString(name)
                buffer.appendCString(value)
            }
            buffer.append(0)
        case .sslRequest:
            buffer.appendUInt32(Self.sslRequestCode)
        case .gssEncRequest:
            buffer.appendUInt32(Self.gssEncRequestCode)
        case .cancelRequest(let processID, let secretKey):
            buffer.appendUInt32(Self.cancelRequestCode)
            buffer.appendInt32(processID)
            buffer.appendUInt32(secretKey)
        }
        buffer.setInt32(Int32(truncatingIfNeeded: buffer.count - lengthIndex), at: lengthIndex)
    }

    /// The whole packet as a new array.
    public var encoded: [UInt8] {
        var buffer: [UInt8] = []
        encode(into: &buffer)
        return buffer
    }
}
