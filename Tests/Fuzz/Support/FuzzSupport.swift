// FuzzSupport: what the libFuzzer targets share — the entry into libFuzzer's driver, the chunked
// message-stream loop of the two message fuzzers, and the decode/re-encode round trip.
import PostgresWire

/// libFuzzer's `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *, size_t))`.
@_silgen_name("LLVMFuzzerRunDriver")
private func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// Hands the process to libFuzzer's driver, which calls `callback` with each input.
///
/// SwiftPM links an executable with `--defsym main=<Target>_main` (the module's entry point is
/// renamed so tests can link it); with -parse-as-library there is no such function, so each
/// target's Entry.swift defines it with `@_cdecl("<Target>_main")` and calls this.
public func runFuzzerDriver(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                            _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt {
    var count = argc
    var vector = argv
    return llvmFuzzerRunDriver(&count, &vector, callback)
}

/// Feeds a fuzz input to a `MessageDecoder` in chunks and hands every framed message to `decode`.
///
/// Byte 0 controls the run: bit 0x80 — the stream starts with a startup packet; bits 0x60 — the
/// decoder's maximum packet size; the whole byte seeds the chunk sizes. The decoder must never
/// return an oversized body, and must stay stuck on a bad frame once it has thrown.
public func fuzzMessageStream(_ data: UnsafePointer<UInt8>, _ size: Int,
                              decode: (_ type: UInt8, _ body: ArraySlice<UInt8>) -> Void) {
    guard size >= 2 else { return }
    let control = data[0]
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let startsWithStartup = control & 0x80 != 0
    let maxPacketSize = [1 << 20, 64, 1024, 1 << 30][Int(control >> 5) & 3]
    var decoder = MessageDecoder(maxPacketSize: maxPacketSize)
    var chunks = ChunkSizes(seed: control)
    var offset = 0
    var startupDone = !startsWithStartup
    while offset < stream.count {
        let take = min(chunks.next(), stream.count - offset)
        decoder.append(stream[offset..<(offset + take)])
        offset += take
        if !startupDone {
            do {
                guard let body = try decoder.nextStartupPacket() else { continue }
                _ = try? StartupPacket.decode(body: body)
                startupDone = true
            } catch { return }
        }
        do {
            while let message = try decoder.next() {
                precondition(message.body.count <= maxPacketSize - 4, "decoder returned an oversized body")
                decode(message.type, message.body)
            }
        } catch {
            precondition((try? decoder.next()) == nil, "decoder recovered after an error")
            return
        }
    }
}

/// Whatever decodes re-encodes to bytes that frame and decode to the same message.
public func roundTrip<M: WireMessage & Equatable>(_ type: M.Type, _ body: ArraySlice<UInt8>) {
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
struct ChunkSizes {
    var state: UInt32
    init(seed: UInt8) { state = UInt32(seed) &* 2_654_435_761 | 1 }
    mutating func next() -> Int {
        state = state &* 1_664_525 &+ 1_013_904_223
        return Int(state >> 26) + 1
    }
}
