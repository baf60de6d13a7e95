// FuzzStartupPacket: libFuzzer target for Framing.startupLength and StartupPacket.decode (throws, never crashes).
import PostgresWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The whole input as it would arrive: length field, then the packet.
    if let length = try? Framing.startupLength(in: bytes[...]) {
        precondition((Framing.minStartupPacketSize...Framing.maxStartupPacketSize).contains(length))
        if bytes.count >= length { check(bytes[4..<length]) }
    }
    // The input as a body alone (no length field), so the fuzzer reaches the parameter parser directly.
    check(bytes[...])
    // Through the incremental decoder, as a connection reads it.
    var decoder = MessageDecoder(maxPacketSize: 1 << 20)
    decoder.append(bytes)
    if let body = try? decoder.nextStartupPacket() { check(body) }
    return 0
}

/// Decodes a body; whatever decodes must re-encode to a packet that decodes to the same value.
private func check(_ body: ArraySlice<UInt8>) {
    guard let packet = try? StartupPacket.decode(body: body) else { return }
    let encoded = packet.encoded
    guard let length = try? Framing.startupLength(in: encoded[...]) else {
        // A re-encoded packet may exceed the 10,000-byte limit only if the input did.
        precondition(body.count + 4 > Framing.maxStartupPacketSize, "re-encoded startup packet has a bad length")
        return
    }
    precondition(length == encoded.count, "startup length field disagrees with the encoded size")
    guard let again = try? StartupPacket.decode(body: encoded[4...]) else {
        preconditionFailure("re-encoded startup packet does not decode: \(packet)")
    }
    precondition(again == packet, "startup packet round trip changed it: \(packet) → \(again)")
}
