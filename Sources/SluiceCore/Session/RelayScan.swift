// RelayScan: the steps both relays take through their input before they look at a message.
import SluiceIO

extension ByteBuffer {
    /// Both relays scan their input a message at a time, peeking at the 5-byte header (type byte,
    /// Int32 length that counts itself) and forwarding whole messages as bytes. A message longer
    /// than what has arrived is forwarded as it comes: the scan that reaches its header counts the
    /// bytes still due in `passthrough`, and the next scans send them on unlooked at.
    ///
    /// Returns how many of the `available` bytes are such a tail (where the scan starts) and
    /// counts them off `passthrough`. A tail can only lead the input: a scan that leaves a tail
    /// behind ends at its last byte.
    @inline(__always) func skipPassthrough(_ passthrough: inout Int, available: Int) -> Int {
        let take = min(passthrough, available)
        passthrough -= take
        return take
    }

    /// The type and the length field of the message at `position`, or nil when fewer than 5 of the
    /// `available` bytes are left there (the scan stops and waits for more).
    @inline(__always) func messageHeader(at position: Int, available: Int) -> (type: UInt8, length: Int)? {
        guard available - position >= 5 else { return nil }
        return (byte(at: position), Int(int32(at: position + 1)))
    }
}
