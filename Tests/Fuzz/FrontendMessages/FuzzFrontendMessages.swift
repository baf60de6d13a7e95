// FuzzFrontendMessages: libFuzzer target: MessageDecoder fed in chunks, every frontend message decoded by type.
import PostgresWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let control = data[0]
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    // Bit 0x80: the stream starts with a startup packet. Bits 0x60: max packet size.
    let startsWithStartup = control & 0x80 != 0
    let maxPacketSize = [1 << 20, 64, 1024, 1 << 30][Int(control >> 5) & 3]
    var decoder = MessageDecoder(maxPacketSize: maxPacketSize)
    var chunks = ChunkSizes(seed: control)
    var offset = 0
    var startupDone = !startsWithStartup
    var failed = false
    while offset < stream.count && !failed {
        let take = min(chunks.next(), stream.count - offset)
        decoder.append(stream[offset..<(offset + take)])
        offset += take
        if !startupDone {
            do {
                guard let body = try decoder.nextStartupPacket() else { continue }
                _ = try? StartupPacket.decode(body: body)
                startupDone = true
            } catch { failed = true; break }
        }
        do {
            while let message = try decoder.next() {
                precondition(message.body.count <= maxPacketSize - 4, "decoder returned an oversized body")
                decodeFrontend(type: message.type, body: message.body)
            }
        } catch {
            // The decoder must stay stuck on the bad frame.
            precondition((try? decoder.next()) == nil, "decoder recovered after an error")
            failed = true
        }
    }
    return 0
}

private func decodeFrontend(type: UInt8, body: ArraySlice<UInt8>) {
    switch type {
    case Query.typeCode: roundTrip(Query.self, body)
    case Parse.typeCode: roundTrip(Parse.self, body)
    case Bind.typeCode: roundTrip(Bind.self, body)
    case Describe.typeCode: roundTrip(Describe.self, body)
    case Execute.typeCode: roundTrip(Execute.self, body)
    case Close.typeCode: roundTrip(Close.self, body)
    case Sync.typeCode: roundTrip(Sync.self, body)
    case Flush.typeCode: roundTrip(Flush.self, body)
    case Terminate.typeCode: roundTrip(Terminate.self, body)
    case CopyData.typeCode: roundTrip(CopyData.self, body)
    case CopyDone.typeCode: roundTrip(CopyDone.self, body)
    case CopyFail.typeCode: roundTrip(CopyFail.self, body)
    case PasswordMessage.typeCode:
        roundTrip(PasswordMessage.self, body)
        roundTrip(SASLInitialResponse.self, body)
        roundTrip(SASLResponse.self, body)
    default:
        // Unknown types: every frontend decoder must still only throw.
        for decoder in allFrontend { _ = try? decoder.decode(body: body) }
    }
}

private let allFrontend: [any WireMessage.Type] = [
    Query.self, Parse.self, Bind.self, Describe.self, Execute.self, Close.self, Sync.self, Flush.self,
    Terminate.self, CopyData.self, CopyDone.self, CopyFail.self, PasswordMessage.self,
    SASLInitialResponse.self, SASLResponse.self,
]

/// Whatever decodes re-encodes to bytes that decode to the same message.
private func roundTrip<M: WireMessage & Equatable>(_ type: M.Type, _ body: ArraySlice<UInt8>) {
    guard let message = try? M.decode(body: body) else { return }
    let encoded = message.encoded
    precondition(encoded.first == M.typeCode)
    var decoder = MessageDecoder(maxPacketSize: Int(Int32.max))
    decoder.append(encoded)
    guard let frame = try? decoder.next(), frame.type == M.typeCode else {
        preconditionFailure("\(M.self): re-encoded message does not frame")
    }
    guard let again = try? M.decode(body: frame.body) else { preconditionFailure("\(M.self): re-encoded message does not decode") }
    precondition(again == message, "\(M.self): round trip changed the message")
}

/// Deterministic chunk sizes 1…64 from a seed byte (a tiny LCG), so a crash replays exactly.
private struct ChunkSizes {
    var state: UInt32
    init(seed: UInt8) { state = UInt32(seed) &* 2_654_435_761 | 1 }
    mutating func next() -> Int {
        state = state &* 1_664_525 &+ 1_013_904_223
        return Int(state >> 26) + 1
    }
}
