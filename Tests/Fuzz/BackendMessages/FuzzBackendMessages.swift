// FuzzBackendMessages: libFuzzer target: MessageDecoder fed in chunks, every backend message decoded by type.
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
                decodeBackend(type: message.type, body: message.body)
            }
        } catch {
            // The decoder must stay stuck on the bad frame.
            precondition((try? decoder.next()) == nil, "decoder recovered after an error")
            failed = true
        }
    }
    return 0
}

private func decodeBackend(type: UInt8, body: ArraySlice<UInt8>) {
    switch type {
    case Authentication.typeCode: roundTrip(Authentication.self, body)
    case ParameterStatus.typeCode: roundTrip(ParameterStatus.self, body)
    case BackendKeyData.typeCode: roundTrip(BackendKeyData.self, body)
    case ReadyForQuery.typeCode: roundTrip(ReadyForQuery.self, body)
    case CommandComplete.typeCode: roundTrip(CommandComplete.self, body)
    case EmptyQueryResponse.typeCode: roundTrip(EmptyQueryResponse.self, body)
    case ParseComplete.typeCode: roundTrip(ParseComplete.self, body)
    case BindComplete.typeCode: roundTrip(BindComplete.self, body)
    case CloseComplete.typeCode: roundTrip(CloseComplete.self, body)
    case NoData.typeCode: roundTrip(NoData.self, body)
    case PortalSuspended.typeCode: roundTrip(PortalSuspended.self, body)
    case ParameterDescription.typeCode: roundTrip(ParameterDescription.self, body)
    case RowDescription.typeCode: roundTrip(RowDescription.self, body)
    case DataRow.typeCode: roundTrip(DataRow.self, body)
    case NotificationResponse.typeCode: roundTrip(NotificationResponse.self, body)
    case NegotiateProtocolVersion.typeCode: roundTrip(NegotiateProtocolVersion.self, body)
    case CopyInResponse.typeCode: roundTrip(CopyInResponse.self, body)
    case CopyOutResponse.typeCode: roundTrip(CopyOutResponse.self, body)
    case CopyBothResponse.typeCode: roundTrip(CopyBothResponse.self, body)
    case ErrorResponse.typeCode:
        roundTrip(ErrorResponse.self, body)
        if let error = try? ErrorResponse.decode(body: body) { _ = (error.code, error.severity, error.message) }
    case NoticeResponse.typeCode: roundTrip(NoticeResponse.self, body)
    case CopyData.typeCode: roundTrip(CopyData.self, body)
    case CopyDone.typeCode: roundTrip(CopyDone.self, body)
    default:
        for decoder in allBackend { _ = try? decoder.decode(body: body) }
    }
}

private let allBackend: [any WireMessage.Type] = [
    Authentication.self, ParameterStatus.self, BackendKeyData.self, ReadyForQuery.self, CommandComplete.self,
    EmptyQueryResponse.self, ParseComplete.self, BindComplete.self, CloseComplete.self, NoData.self,
    PortalSuspended.self, ParameterDescription.self, RowDescription.self, DataRow.self, NotificationResponse.self,
    NegotiateProtocolVersion.self, CopyInResponse.self, CopyOutResponse.self, CopyBothResponse.self,
    ErrorResponse.self, NoticeResponse.self, CopyData.self, CopyDone.self,
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
