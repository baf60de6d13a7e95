// Framing: the 5-byte message header, startup-packet length, incremental decoding and writing.

/// What a decoder throws on bytes that break the protocol; never a crash.
public enum WireError: Error, Equatable, Sendable {
    /// The length field is below the minimum (4 for typed messages, 8 for startup packets).
    case invalidLength(Int)
    /// The length field exceeds the configured maximum.
    case packetTooLarge(Int, max: Int)
    /// Missing NUL terminator, truncated field, bad enum byte, trailing garbage…
    case malformed(String)
}

/// The type byte and length field that start every message after the startup phase.
public struct FrameHeader: Equatable, Sendable {
    public let type: UInt8
    /// The value of the length field, which counts itself but not the type byte.
    public let length: Int

    public init(type: UInt8, length: Int) {
        self.type = type
        self.length = length
    }

    /// Bytes the whole message occupies on the wire, type byte included.
    public var totalSize: Int { length + 1 }
    /// Bytes of the body (after type byte and length field).
    public var bodySize: Int { length - 4 }
}

public enum Framing {
    @inlinable public static var headerSize: Int { 5 }
    /// PostgreSQL refuses startup packets longer than this (`MAX_STARTUP_PACKET_LENGTH`).
    @inlinable public static var maxStartupPacketSize: Int { 10_000 }
    /// The shortest startup packet: length field plus protocol code.
    @inlinable public static var minStartupPacketSize: Int { 8 }
    /// The longest message PostgreSQL reads during authentication (`PG_MAX_AUTH_TOKEN_LENGTH` is
    /// 65535 bytes of password or SASL data, plus the length field).
    @inlinable public static var maxAuthenticationMessageSize: Int { 65_539 }

    /// Reads the 5-byte header at `offset` of `bytes`; nil if fewer than 5 bytes are there.
    public static func header(in bytes: UnsafeRawBufferPointer, at offset: Int, maxPacketSize: Int) throws(WireError) -> FrameHeader? {
        guard let base = bytes.baseAddress else { return nil }
        let scanner = FrameScanner(maxMessageSize: maxPacketSize)
        switch scanner.frame(base, count: bytes.count, at: offset) {
        case .incomplete: return nil
        case .message(let type, let length): return FrameHeader(type: type, length: length)
        case .invalid(_, let length): throw scanner.error(forLength: length)
        }
    }

    /// Reads the 5-byte header at the start of `bytes`; nil if fewer than 5 bytes are there.
    public static func header(in bytes: ArraySlice<UInt8>, maxPacketSize: Int) throws(WireError) -> FrameHeader? {
        let result: Result<FrameHeader?, WireError> = bytes.withUnsafeBytes { raw in
            do throws(WireError) { return .success(try header(in: raw, at: 0, maxPacketSize: maxPacketSize)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// The length field of a startup packet (includes itself); nil if fewer than 4 bytes are there.
    public static func startupLength(in bytes: ArraySlice<UInt8>) throws(WireError) -> Int? {
        let frame = bytes.withUnsafeBytes { raw -> StartupFrame in
            guard let base = raw.baseAddress else { return .incomplete }
            return FrameScanner.startupFrame(base, count: raw.count)
        }
        switch frame {
        case .incomplete: return nil
        case .packet(let length): return length
        case .invalid(let length) where length < minStartupPacketSize: throw .invalidLength(length)
        case .invalid(let length): throw .packetTooLarge(length, max: maxStartupPacketSize)
        }
    }
}

/// Incremental decoder: append bytes, pull whole messages; returns nil on a partial frame.
///
/// After it throws, the decoder stays stuck on the bad frame and throws again: the caller
/// is expected to answer with an ErrorResponse and close the connection.
public struct MessageDecoder: Sendable {
    public let maxPacketSize: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0

    public init(maxPacketSize: Int) {
        self.maxPacketSize = maxPacketSize
    }

    /// Bytes appended but not yet returned as messages.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        if readIndex > 0, readIndex == buffer.count || readIndex >= 4096 && readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole typed message, or nil when more bytes are needed.
    public mutating func next() throws(WireError) -> (type: UInt8, body: ArraySlice<UInt8>)? {
        let pending = buffer[readIndex...]
        guard let header = try Framing.header(in: pending, maxPacketSize: maxPacketSize),
              pending.count >= header.totalSize else { return nil }
        let bodyStart = readIndex + Framing.headerSize
        let body = buffer[bodyStart..<(readIndex + header.totalSize)]
        readIndex += header.totalSize
        return (header.type, body)
    }

    /// The next whole startup packet (SSLRequest, StartupMessage, CancelRequest…): the bytes
    /// after its length field, ready for `StartupPacket.decode(body:)`; nil when more bytes are needed.
    public mutating func nextStartupPacket() throws(WireError) -> ArraySlice<UInt8>? {
        let pending = buffer[readIndex...]
        guard let length = try Framing.startupLength(in: pending), pending.count >= length else { return nil }
        let body = buffer[(readIndex + 4)..<(readIndex + length)]
        readIndex += length
        return body
    }
}

/// Appends messages to a byte array: `var w = MessageWriter(); w.write(ReadyForQuery(status: .idle)); w.bytes`
public struct MessageWriter: Sendable {
    public var bytes: [UInt8]

    public init() {
        bytes = []
    }

    public init(reservingCapacity capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ message: some BackendMessage) {
        message.encode(into: &bytes)
    }

    public mutating func write(_ message: some FrontendMessage) {
        message.encode(into: &bytes)
    }

    /// For messages both sides send (CopyData, CopyDone).
    public mutating func write(_ message: some BackendMessage & FrontendMessage) {
        message.encode(into: &bytes)
    }

    public mutating func write(_ packet: StartupPacket) {
        packet.encode(into: &bytes)
    }
}
