// Authentication ('R'): the server's authentication requests and its final AuthenticationOk.

public enum Authentication: BackendMessage, Equatable {
    /// AuthenticationOk (0).
    case ok
    /// AuthenticationCleartextPassword (3).
    case cleartextPassword
    /// AuthenticationMD5Password (5) with its 4-byte salt.
    case md5Password(salt: [UInt8])
    /// AuthenticationSASL (10) listing the mechanisms the server accepts.
    case sasl(mechanisms: [String])
    /// AuthenticationSASLContinue (11): for SCRAM, server-first.
    case saslContinue(data: [UInt8])
    /// AuthenticationSASLFinal (12): for SCRAM, server-final.
    case saslFinal(data: [UInt8])
    /// Any other request (KerberosV5 2, SCM 6, GSS 7, GSSContinue 8, SSPI 9…); only the code is kept.
    case unsupported(code: Int32)

    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "R") }

    /// The request code on the wire.
    public var code: Int32 {
        switch self {
        case .ok: 0
        case .cleartextPassword: 3
        case .md5Password: 5
        case .sasl: 10
        case .saslContinue: 11
        case .saslFinal: 12
        case .unsupported(let code): code
        }
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendInt32(code)
        switch self {
        case .ok, .cleartextPassword, .unsupported:
            break
        case .md5Password(let salt):
            buffer.append(contentsOf: salt)
        case .sasl(let mechanisms):
            for mechanism in mechanisms { buffer.appendCString(mechanism) }
            buffer.append(0)
        case .saslContinue(let data), .saslFinal(let data):
            buffer.append(contentsOf: data)
        }
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> Authentication {
        var reader = ByteReader(body, context: "Authentication")
        let code = try reader.readInt32()
        let message: Authentication
        switch code {
        case 0: message = .ok
        case 3: message = .cleartextPassword
        case 5: message = .md5Password(salt: Array(try reader.readBytes(4)))
        case 10:
            var mechanisms: [String] = []
            while true {
                let mechanism = try reader.readCString()
                if mechanism.isEmpty { break }
                mechanisms.append(mechanism)
            }
            message = .sasl(mechanisms: mechanisms)
        case 11: message = .saslContinue(data: Array(reader.readRemaining()))
        case 12: message = .saslFinal(data: Array(reader.readRemaining()))
        default: return .unsupported(code: code)
        }
        try reader.expectEnd()
        return message
    }
}
