// RelayScan: how connections walk their input — through PostgresWire's FrameScanner, always.
import PostgresWire
import SluiceIO

/// A whole message taken off the front of a buffer by a loop that handles one message at a time.
enum WholeMessage {
    /// Fewer bytes than the next message needs: wait for more.
    case incomplete
    /// The length field is out of bounds (the peer broke the protocol; `length` says how).
    case invalid(length: Int)
    /// The message, consumed from the buffer; `body` is a copy of the bytes after the header.
    case message(type: UInt8, body: [UInt8])
}

extension ByteBuffer {
    /// Both relays scan their input a message at a time, peeking at the 5-byte header and
    /// forwarding whole messages as bytes. A message longer than what has arrived is forwarded as
    /// it comes: the scan that reaches its header counts the bytes still due in `passthrough`, and
    /// the next scans send them on unlooked at.
    ///
    /// Returns how many of the `available` bytes are such a tail (where the scan starts) and
    /// counts them off `passthrough`. A tail can only lead the input: a scan that leaves a tail
    /// behind ends at its last byte.
    @inline(__always) func skipPassthrough(_ passthrough: inout Int, available: Int) -> Int {
        let take = min(passthrough, available)
        passthrough -= take
        return take
    }

    /// The frame at `position` of the first `available` readable bytes.
    @inline(__always) func frame(at position: Int, available: Int, scanner: FrameScanner) -> Frame {
        scanner.frame(UnsafeRawPointer(readPointer), count: available, at: position)
    }

    /// Takes the first message off the buffer when it is all there.
    func nextWholeMessage(_ scanner: FrameScanner) -> WholeMessage {
        switch frame(at: 0, available: readableBytes, scanner: scanner) {
        case .incomplete: return .incomplete
        case .invalid(_, let length): return .invalid(length: length)
        case .message(let type, let length):
            guard readableBytes >= length + 1 else { return .incomplete }
            let body = bytes(at: 5, count: length - 4)
            consume(length + 1)
            return .message(type: type, body: body)
        }
    }
}
