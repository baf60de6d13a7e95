// Tests for AdminSession: the console's protocol decisions as event → action scripts, without sockets.
import XCTest
import PostgresWire
@testable import SluiceCore

/// One console session; each message returns its action as a short string.
private struct Script {
    var session: AdminSession
    var now: UInt64 = 1_000
    var consoleAvailable = true

    init(_ privilege: AdminPrivilege = .admin) { session = AdminSession(privilege: privilege) }

    /// Messages by type letter; a Query carries `text`.
    mutating func receive(_ types: String, text: String = "SHOW POOLS") -> [String] {
        types.utf8.map { type in
            now += 1
            let body = type == Query.typeCode ? Query(text).encoded.dropFirst(5) : ArraySlice<UInt8>()
            return Self.describe(session.messageReceived(type: type, body: body, now: now, consoleAvailable: consoleAvailable))
        }
    }

    static func describe(_ action: AdminSession.Action) -> String {
        switch action {
        case .none: return "none"
        case .send(let bytes): return "send " + messages(bytes)
        case .execute(let query, let privilege): return "execute \(query) \(privilege)"
        case .close(let reason): return "close \(reason)"
        }
    }

    /// The messages in `bytes` as type letters, an ErrorResponse with its SQLSTATE: `E0A000 Z`.
    static func messages(_ bytes: [UInt8]) -> String {
        var decoder = MessageDecoder(maxPacketSize: 1 << 20)
        decoder.append(bytes)
        var names: [String] = []
        while let message = try? decoder.next() {
            var name = String(Character(Unicode.Scalar(message.type)))
            if message.type == ErrorResponse.typeCode, let error = try? ErrorResponse.decode(body: message.body) {
                name += error.code ?? ""
            }
            names.append(name)
        }
        return names.joined(separator: " ")
    }
}

final class AdminSessionTests: XCTestCase {
    func testGreeting() {
        let bytes = AdminSession.greeting(applicationName: "psql", processID: 7, secretKey: 9)
        XCTAssertEqual(Script.messages(bytes), "S S S S S S S S K Z")
        var decoder = MessageDecoder(maxPacketSize: 1 << 20)
        decoder.append(bytes)
        var parameters: [String: String] = [:]
        while let message = try? decoder.next(), message.type == ParameterStatus.typeCode {
            let status = try! ParameterStatus.decode(body: message.body)
            parameters[status.name] = status.value
        }
        XCTAssertEqual(parameters["application_name"], "psql")
        XCTAssertEqual(parameters["client_encoding"], "UTF8")
        XCTAssertTrue(parameters["server_version"]?.hasPrefix("15.0 (") ?? false)
    }

    func testSimpleQueryIsExecutedAndTheSessionIsBusyUntilTheReply() {
        var s = Script(.stats)
        XCTAssertFalse(s.session.busy)
        XCTAssertEqual(s.receive("Q", text: "SHOW CLIENTS"), ["execute SHOW CLIENTS stats"])
        XCTAssertTrue(s.session.busy, "later input waits while the snapshot is gathered")
        XCTAssertEqual(s.session.requestAt, 1_001)
        let reply = s.session.replyReady(CommandComplete(tag: "SHOW").encoded)
        XCTAssertEqual(Script.messages(reply), "C Z")
        XCTAssertFalse(s.session.busy)
        XCTAssertEqual(s.receive("Q"), ["execute SHOW POOLS stats"])
    }

    func testWithoutAConsoleEveryQueryGetsAnError() {
        var s = Script()
        s.consoleAvailable = false
        XCTAssertEqual(s.receive("QQ"), ["send E0A000 Z", "send E0A000 Z"])
        XCTAssertFalse(s.session.busy)
    }

    func testExtendedProtocolGetsOneErrorThenSkipsToSync() {
        var s = Script()
        XCTAssertEqual(s.receive("PBDE"), ["send E0A000", "none", "none", "none"])
        XCTAssertTrue(s.session.skippingToSync)
        XCTAssertEqual(s.receive("S"), ["send Z"])
        XCTAssertFalse(s.session.skippingToSync)
        XCTAssertEqual(s.receive("PS"), ["send E0A000", "send Z"], "a new batch gets its own error")
        XCTAssertEqual(s.receive("S"), ["send Z"], "a lone Sync is answered")
        XCTAssertEqual(s.receive("HQ"), ["send E0A000", "execute SHOW POOLS admin"], "a Query is served even mid-batch")
    }

    func testTerminateCloses() {
        var s = Script()
        XCTAssertEqual(s.receive("X"), ["close client_close"])
        XCTAssertEqual(s.session.requestAt, 1_001)
    }
}
