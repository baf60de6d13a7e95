// FrameScanner: the one reader of message headers, over raw bytes; no allocation, no copies.

/// What lies at a position of a byte stream of typed messages (everything after the startup packet).
public enum Frame: Equatable, Sendable {
    /// Fewer than 5 bytes are there: wait for more.
    case incomplete
    /// A message whose header is valid. `length` is the length field (it counts itself, not the
    /// type byte); the whole message is `length + 1` bytes, and may not all be there yet.
    case message(type: UInt8, length: Int)
    /// The length field is below 4 or above the scanner's maximum: the peer broke the protocol.
    case invalid(type: UInt8, length: Int)
}

/// What lies at the start of a stream that begins with a startup packet (StartupMessage,
/// SSLRequest, GSSENCRequest, CancelRequest), which has a length field and no type byte.
public enum StartupFrame: Equatable, Sendable {
    /// Fewer than 4 bytes are there.
    case incomplete
    /// A packet of `length` bytes, length field included; it may not all be there yet.
    case packet(length: Int)
    /// Shorter than 8 bytes or longer than `Framing.maxStartupPacketSize`.
    case invalid(length: Int)
}

/// Reads message headers for every loop that walks a stream: both relays, the login and console
/// loops, `MessageDecoder` (and so the fuzzers). The size limit is the caller's: PostgreSQL's own
/// limits during startup and authentication, `max_packet_size` afterwards.
public struct FrameScanner: Sendable {
    /// The largest length field accepted (the message is one byte longer).
    public let maxMessageSize: Int

    @inlinable public init(maxMessageSize: Int) {
        self.maxMessageSize = maxMessageSize
    }

    /// The frame at `offset` of the `count` bytes at `base`.
    @inlinable @inline(__always)
    public func frame(_ base: UnsafeRawPointer, count: Int, at offset: Int) -> Frame {
        guard offset >= 0, count - offset >= Framing.headerSize else { return .incomplete }
        let type = base.load(fromByteOffset: offset, as: UInt8.self)
        let length = Self.lengthField(base + offset + 1)
        guard length >= 4, length <= maxMessageSize else { return .invalid(type: type, length: length) }
        return .message(type: type, length: length)
    }

    /// The startup packet at the start of the `count` bytes at `base`.
    @inlinable
    public static func startupFrame(_ base: UnsafeRawPointer, count: Int) -> StartupFrame {
        guard count >= 4 else { return .incomplete }
        let length = lengthField(base)
        guard length >= Framing.minStartupPacketSize, length <= Framing.maxStartupPacketSize else {
            return .invalid(length: length)
        }
        return .packet(length: length)
    }

    /// The big-endian Int32 length field at `p` (it may be unaligned).
    @inlinable @inline(__always)
    static func lengthField(_ p: UnsafeRawPointer) -> Int {
        Int(Int32(bitPattern: UInt32(p.load(as: UInt8.self)) << 24
            | UInt32(p.load(fromByteOffset: 1, as: UInt8.self)) << 16
            | UInt32(p.load(fromByteOffset: 2, as: UInt8.self)) << 8
            | UInt32(p.load(fromByteOffset: 3, as: UInt8.self))))
    }

    /// The error a decoder reports for an invalid frame.
    public func error(forLength length: Int) -> WireError {
        length < 4 ? .invalidLength(length) : .packetTooLarge(length, max: maxMessageSize)
    }
}
