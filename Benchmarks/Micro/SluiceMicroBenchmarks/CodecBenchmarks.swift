// CodecBenchmarks: PostgresWire encoding/decoding and the frame scan the relay does, per message.
import Benchmark
import PostgresWire
import SluiceIO

/// Inputs built once, outside any measurement.
private struct CodecInputs {
    /// A result set as PostgreSQL streams it: RowDescription, rows, CommandComplete, ReadyForQuery.
    static let frameCount = 1_000
    let dataRowBody: ArraySlice<UInt8>
    let rowDescriptionBody: ArraySlice<UInt8>
    let errorResponseBody: ArraySlice<UInt8>
    /// `frameCount` backend frames back to back, in stable memory.
    let frames: UnsafeMutableRawBufferPointer
    /// The same frames in a SluiceIO ByteBuffer, as the relay holds them.
    let frameBuffer: ByteBuffer

    init() {
        dataRowBody = Self.body(of: DataRow(["42", "alice", "alice@example.com", "2024-01-01 12:00:00+00", nil]).encoded)
        rowDescriptionBody = Self.body(of: RowDescription(textColumns: [
            (name: "id", typeOID: 20), (name: "name", typeOID: 25), (name: "email", typeOID: 25),
            (name: "created_at", typeOID: 1184), (name: "deleted_at", typeOID: 1184),
        ]).encoded)
        // The fields PostgreSQL 15 sends for a unique violation.
        let error = ErrorResponse(fields: ErrorFields([
            (UInt8(ascii: "S"), "ERROR"), (UInt8(ascii: "V"), "ERROR"), (UInt8(ascii: "C"), "23505"),
            (UInt8(ascii: "M"), "duplicate key value violates unique constraint \"users_email_key\""),
            (UInt8(ascii: "D"), "Key (email)=(alice@example.com) already exists."),
            (UInt8(ascii: "s"), "public"), (UInt8(ascii: "t"), "users"), (UInt8(ascii: "n"), "users_email_key"),
            (UInt8(ascii: "F"), "nbtinsert.c"), (UInt8(ascii: "L"), "664"), (UInt8(ascii: "R"), "_bt_check_unique"),
        ]))
        errorResponseBody = Self.body(of: error.encoded)

        var writer = MessageWriter()
        writer.write(RowDescription(textColumns: [(name: "id", typeOID: 20), (name: "name", typeOID: 25)]))
        for row in 0..<(Self.frameCount - 3) { writer.write(DataRow(["\(row)", "user number \(row)"])) }
        writer.write(CommandComplete(tag: "SELECT \(Self.frameCount - 3)"))
        writer.write(ReadyForQuery(status: .idle))
        let bytes = writer.bytes
        frames = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        frames.copyBytes(from: bytes)
        frameBuffer = ByteBuffer(capacity: bytes.count)
        frameBuffer.append(bytes)
    }

    private static func body(of message: [UInt8]) -> ArraySlice<UInt8> {
        Array(message.dropFirst(Framing.headerSize))[...]
    }
}

func registerCodecBenchmarks() {
    // Lazily built on first use, i.e. in the process that runs a codec benchmark, before measuring.
    nonisolated(unsafe) var inputs: CodecInputs?
    let setup: () -> Void = { if inputs == nil { inputs = CodecInputs() } }
    let perOp = Benchmark.Configuration(metrics: microMetrics, warmupIterations: 10, scalingFactor: .kilo,
                                        maxDuration: .seconds(2), maxIterations: 10_000)

    Benchmark("Codec: encode Query", configuration: perOp) { benchmark in
        // Reused buffer, as a writer would keep one; the text is a literal (no String allocation).
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256)
        benchmark.startMeasurement()
        measuringCPU(benchmark) {
            for _ in benchmark.scaledIterations {
                buffer.removeAll(keepingCapacity: true)
                Query("SELECT id, name, email FROM users WHERE id = $1").encode(into: &buffer)
                blackHole(buffer.count)
            }
        }
    }

    Benchmark("Codec: decode DataRow (5 columns)", configuration: perOp) { benchmark in
        let body = inputs!.dataRowBody
        measuringCPU(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(try! DataRow.decode(body: body))
            }
        }
    } setup: { setup() }

    Benchmark("Codec: decode RowDescription (5 fields)", configuration: perOp) { benchmark in
        let body = inputs!.rowDescriptionBody
        measuringCPU(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(try! RowDescription.decode(body: body))
            }
        }
    } setup: { setup() }

    Benchmark("Codec: decode ErrorResponse (11 fields)", configuration: perOp) { benchmark in
        let body = inputs!.errorResponseBody
        measuringCPU(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(try! ErrorResponse.decode(body: body))
            }
        }
    } setup: { setup() }

    // One scaled iteration = one frame header read and skipped (type + length), wrapping around
    // a 1000-frame result set.
    Benchmark("Codec: scan frames (Framing.header)", configuration: perOp) { benchmark in
        let frames = UnsafeRawBufferPointer(inputs!.frames)
        var offset = 0
        measuringCPU(benchmark) {
            for _ in benchmark.scaledIterations {
                let header = try! Framing.header(in: frames, at: offset, maxPacketSize: 64 << 20)!
                blackHole(header.type)
                offset += header.totalSize
                if offset >= frames.count { offset = 0 }
            }
        }
    } setup: { setup() }

    // The same scan the way ServerConnection.relayToClient does it: ByteBuffer.byte/int32 at a position.
    Benchmark("Codec: scan frames (ByteBuffer, relay style)", configuration: perOp) { benchmark in
        let input = inputs!.frameBuffer
        let available = input.readableBytes
        var position = 0
        var zCount = 0
        measuringCPU(benchmark) {
            for _ in benchmark.scaledIterations {
                let type = input.byte(at: position)
                let length = Int(input.int32(at: position + 1))
                precondition(length >= 4 && length <= 64 << 20)
                if type == ReadyForQuery.typeCode { zCount &+= 1 }
                position += length + 1
                if position >= available { position = 0 }
            }
        }
        blackHole(zCount)
    } setup: { setup() }
}
