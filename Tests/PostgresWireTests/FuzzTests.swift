// FuzzTests: random and mutated bytes through every decoder and both SCRAM exchanges; only throws, never crashes.

import XCTest
@testable import PostgresWire

final class FuzzTests: XCTestCase {
    static let messageTypes: [any WireMessage.Type] = [
        Query.self, Parse.self, Bind.self, Describe.self, Execute.self, Close.self, Sync.self, Flush.self,
        Terminate.self, CopyData.self, CopyDone.self, CopyFail.self, PasswordMessage.self, SASLInitialResponse.self,
        SASLResponse.self, Authentication.self, ParameterStatus.self, BackendKeyData.self, ReadyForQuery.self,
        CommandComplete.self, EmptyQueryResponse.self, ParseComplete.self, BindComplete.self, CloseComplete.self,
        NoData.self, PortalSuspended.self, ParameterDescription.self, RowDescription.self, DataRow.self,
        NotificationResponse.self, NegotiateProtocolVersion.self, CopyInResponse.self, CopyOutResponse.self,
        CopyBothResponse.self, ErrorResponse.self, NoticeResponse.self,
    ]

    /// Valid bodies to mutate, so the fuzzer gets past the first field.
    static let seeds: [[UInt8]] = [
        Array(body(of: Parse(statementName: "s", query: "q", parameterTypeOIDs: [23]))),
        Array(body(of: RowDescription(textColumns: [(name: "a", typeOID: 25)]))),
        Array(body(of: DataRow(["x", nil]))),
        Array(body(of: ErrorResponse(severity: .error, code: "XX000", message: "m"))),
        Array(body(of: Authentication.sasl(mechanisms: ["SCRAM-SHA-256"]))),
        Array(body(of: NegotiateProtocolVersion(newestMinorVersion: 0, unrecognizedOptions: ["a"]))),
        StartupPacket.startup(protocolVersion: 196_608, parameters: ["user": "u"]).encoded.dropFirst(4).map { $0 },
        [0, 0, 0, 10, 0], [0, 0, 0, 5], [0xFF, 0xFF],
    ]

    func randomBody(_ generator: inout SeededGenerator) -> ArraySlice<UInt8> {
        var bytes: [UInt8]
        if Bool.random(using: &generator) {
            bytes = (0..<Int.random(in: 0...48, using: &generator)).map { _ in
                // Bias toward bytes that matter: NUL, 0xFF and small numbers.
                [0, 0xFF, 1, 3, 0x53, UInt8.random(in: 0...255, using: &generator)].randomElement(using: &generator)!
            }
        } else {
            bytes = Self.seeds.randomElement(using: &generator)!
            for _ in 0..<Int.random(in: 1...3, using: &generator) where !bytes.isEmpty {
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.removeLast(Int.random(in: 0...bytes.count, using: &generator))
                default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 0...bytes.count, using: &generator))
                }
            }
        }
        let offset = Int.random(in: 0...3, using: &generator)
        return ([UInt8](repeating: 0xEE, count: offset) + bytes)[offset...]
    }

    func testEveryDecoderSurvivesRandomBytes() {
        var generator = SeededGenerator(seed: 0x5EED)
        var decoded = 0
        for _ in 0..<10_000 {
            let body = randomBody(&generator)
            for type in Self.messageTypes where (try? type.decode(body: body)) != nil { decoded += 1 }
            if (try? StartupPacket.decode(body: body)) != nil { decoded += 1 }
        }
        XCTAssertGreaterThan(decoded, 0)
    }

    func testMessageDecoderSurvivesRandomStreams() {
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<2_000 {
            var decoder = MessageDecoder(maxPacketSize: 64)
            for _ in 0..<4 {
                decoder.append(randomBody(&generator))
                while let message = try? decoder.next() {
                    XCTAssertLessThanOrEqual(message.body.count, 60)
                }
                _ = try? decoder.nextStartupPacket()
            }
            _ = try? Framing.startupLength(in: randomBody(&generator))
        }
    }

    func testSCRAMExchangesSurviveRandomMessages() {
        var generator = SeededGenerator(seed: 7)
        let secret = SCRAMSecret.derive(password: "p", salt: [1, 2, 3], iterations: 1)
        let prefixes = ["n,,n=,r=", "y,,n=,r=", "c=biws,r=", "r=abc", "v=", "e=", "r=abcX,s=AQID,i="]
        for _ in 0..<3_000 {
            var noise = Array(randomBody(&generator))
            if Bool.random(using: &generator) { noise = Array(prefixes.randomElement(using: &generator)!.utf8) + noise }
            var server = SCRAMServerExchange(secret: secret)
            _ = server.clientFirstReceived(noise)
            _ = server.clientFinalReceived(noise)
            var client = SCRAMClientExchange(password: "p", nonce: "abc")
            _ = client.initialResponse()
            if case .success = client.serverFirstReceived(noise) {
                _ = client.serverFinalReceived(noise)
            }
        }
    }
}
