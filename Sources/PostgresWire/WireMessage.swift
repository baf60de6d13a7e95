// WireMessage: the protocols every typed message conforms to, and the shared encode(into:).

/// A message with a type byte: encodes its body, decodes from a body.
public protocol WireMessage: Sendable {
    /// The type byte, e.g. `UInt8(ascii: "Z")` for ReadyForQuery.
    static var typeCode: UInt8 { get }
    /// Appends the bytes after the type byte and length field.
    func encodeBody(into buffer: inout [UInt8])
    /// Decodes from the bytes after the type byte and length field; throws, never crashes.
    static func decode(body: ArraySlice<UInt8>) throws(WireError) -> Self
}

/// A message the server sends to the client.
public protocol BackendMessage: WireMessage {}

/// A message the client sends to the server.
public protocol FrontendMessage: WireMessage {}

extension WireMessage {
    /// Appends the whole message: type byte, length, body.
    public func encode(into buffer: inout [UInt8]) {
        buffer.append(Self.typeCode)
        let lengthIndex = buffer.count
        buffer.appendInt32(0)
        encodeBody(into: &buffer)
        buffer.setInt32(Int32(truncatingIfNeeded: buffer.count - lengthIndex), at: lengthIndex)
    }

    /// The whole message as a new array.
    public var encoded: [UInt8] {
        var buffer: [UInt8] = []
        encode(into: &buffer)
        return buffer
    }
}

/// A message whose body is empty (Sync, Flush, ParseComplete…); decoding rejects any body bytes.
public protocol EmptyBodyMessage: WireMessage {
    init()
}

extension EmptyBodyMessage {
    public func encodeBody(into buffer: inout [UInt8]) {}

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> Self {
        guard body.isEmpty else { throw .malformed("\(Self.self): expected an empty body, got \(body.count) bytes") }
        return Self()
    }
}
