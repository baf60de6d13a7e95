// Tests for ServerLoginMachine: each upstream authentication kind, failures, retryability.
import XCTest
import PostgresWire
@testable import SluiceCore

final class ServerLoginTests: XCTestCase {
    func feed(_ machine: inout ServerLoginMachine, _ message: some BackendMessage) -> ServerLoginMachine.Action {
        let bytes = message.encoded
        return machine.messageReceived(type: bytes[0], body: bytes.dropFirst(5))
    }

    func finishLogin(_ machine: inout ServerLoginMachine) {
        if case .none = feed(&machine, Authentication.ok) {} else { XCTFail("AuthenticationOk") }
        _ = feed(&machine, ParameterStatus(name: "server_version", value: "15.18"))
        _ = feed(&machine, ParameterStatus(name: "TimeZone", value: "UTC"))
        _ = feed(&machine, BackendKeyData(processID: 77, secretKey: 5))
        guard case .ready(let parameters, let key) = feed(&machine, ReadyForQuery(status: .idle)) else { return XCTFail("ready") }
        XCTAssertEqual(parameters.map(\.name), ["server_version", "TimeZone"])
        XCTAssertEqual(key?.processID, 77)
    }

    func testStartupPacketCarriesOptions() {
        let bytes = ServerLoginMachine.startupPacket(user: "app", database: "db", options: "endpoint=ep-1")
        guard case .startup(_, let parameters) = try! StartupPacket.decode(body: bytes.dropFirst(4)) else { return XCTFail() }
        XCTAssertEqual(parameters["user"], "app")
        XCTAssertEqual(parameters["database"], "db")
        XCTAssertEqual(parameters["options"], "endpoint=ep-1")
    }

    func testTrust() {
        var machine = ServerLoginMachine(user: "app", password: nil)
        finishLogin(&machine)
    }

    func testCleartext() {
        var machine = ServerLoginMachine(user: "app", password: "pw")
        guard case .send(let bytes) = feed(&machine, Authentication.cleartextPassword) else { return XCTFail() }
        XCTAssertEqual(try PasswordMessage.decode(body: bytes.dropFirst(5)).password, "pw")
        finishLogin(&machine)
    }

    func testMD5() {
        var machine = ServerLoginMachine(user: "app", password: "pw")
        guard case .send(let bytes) = feed(&machine, Authentication.md5Password(salt: [1, 2, 3, 4])) else { return XCTFail() }
        XCTAssertEqual(try PasswordMessage.decode(body: bytes.dropFirst(5)).password,
                       MD5Password.hash(user: "app", password: "pw", salt: [1, 2, 3, 4]))
        finishLogin(&machine)
    }

    func testSCRAMAgainstOurOwnServerExchange() {
        var machine = ServerLoginMachine(user: "app", password: "pw")
        var server = SCRAMServerExchange(secret: SCRAMSecret.derive(password: "pw", salt: Array(repeating: 2, count: 16)))
        guard case .send(let initial) = feed(&machine, Authentication.sasl(mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])) else {
            return XCTFail()
        }
        let first = try! SASLInitialResponse.decode(body: initial.dropFirst(5))
        XCTAssertEqual(first.mechanism, "SCRAM-SHA-256")
        guard case .success(let serverFirst) = server.clientFirstReceived(first.data ?? []) else { return XCTFail() }
        guard case .send(let response) = feed(&machine, Authentication.saslContinue(data: serverFirst)) else { return XCTFail() }
        guard case .success(let serverFinal) = server.clientFinalReceived(try! SASLResponse.decode(body: response.dropFirst(5)).data) else {
            return XCTFail("server rejected our proof")
        }
        guard case .none = feed(&machine, Authentication.saslFinal(data: serverFinal)) else { return XCTFail() }
        finishLogin(&machine)
    }

    func testChannelBindingUsedWhenOfferedOverTLS() {
        let hash = Array(repeating: UInt8(9), count: 32)
        var machine = ServerLoginMachine(user: "app", password: "pw", channelBinding: .prefer, serverCertificateHash: hash)
        guard case .send(let initial) = feed(&machine, Authentication.sasl(mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])) else {
            return XCTFail()
        }
        let first = try! SASLInitialResponse.decode(body: initial.dropFirst(5))
        XCTAssertEqual(first.mechanism, "SCRAM-SHA-256-PLUS")
        XCTAssertTrue(String(decoding: first.data ?? [], as: UTF8.self).hasPrefix("p=tls-server-end-point,,"))
    }

    func testChannelBindingRequiredButNotOffered() {
        var machine = ServerLoginMachine(user: "app", password: "pw", channelBinding: .require, serverCertificateHash: [1, 2])
        guard case .fail(let failure) = feed(&machine, Authentication.sasl(mechanisms: ["SCRAM-SHA-256"])) else { return XCTFail() }
        XCTAssertTrue(failure.message.contains("SCRAM-SHA-256-PLUS"))
        var trust = ServerLoginMachine(user: "app", password: "pw", channelBinding: .require, serverCertificateHash: [1, 2])
        guard case .fail = feed(&trust, Authentication.ok) else { return XCTFail("trust login must fail under channel_binding=require") }
    }

    func testTLSWithoutPlusSaysClientSupportsBinding() {
        var machine = ServerLoginMachine(user: "app", password: "pw", channelBinding: .prefer, serverCertificateHash: [1, 2])
        guard case .send(let initial) = feed(&machine, Authentication.sasl(mechanisms: ["SCRAM-SHA-256"])) else { return XCTFail() }
        let first = try! SASLInitialResponse.decode(body: initial.dropFirst(5))
        XCTAssertTrue(String(decoding: first.data ?? [], as: UTF8.self).hasPrefix("y,,"))
    }

    func testForgedServerSignatureFails() {
        var machine = ServerLoginMachine(user: "app", password: "pw")
        var server = SCRAMServerExchange(secret: SCRAMSecret.derive(password: "pw", salt: Array(repeating: 2, count: 16)))
        guard case .send(let initial) = feed(&machine, Authentication.sasl(mechanisms: ["SCRAM-SHA-256"])) else { return XCTFail() }
        guard case .success(let serverFirst) = server.clientFirstReceived(try! SASLInitialResponse.decode(body: initial.dropFirst(5)).data ?? []) else {
            return XCTFail()
        }
        guard case .send = feed(&machine, Authentication.saslContinue(data: serverFirst)) else { return XCTFail() }
        guard case .fail(let failure) = feed(&machine, Authentication.saslFinal(data: Array("v=AAAA".utf8))) else { return XCTFail() }
        XCTAssertFalse(failure.retryable)
    }

    func testServerErrorsAndRetryability() {
        var machine = ServerLoginMachine(user: "app", password: "pw")
        guard case .fail(let auth) = feed(&machine, ErrorResponse(severity: .fatal, code: "28P01", message: "password authentication failed")) else {
            return XCTFail()
        }
        XCTAssertFalse(auth.retryable)
        var starting = ServerLoginMachine(user: "app", password: "pw")
        guard case .fail(let wake) = feed(&starting, ErrorResponse(severity: .fatal, code: "57P03", message: "the database system is starting up")) else {
            return XCTFail()
        }
        XCTAssertTrue(wake.retryable)
        XCTAssertTrue(ServerLoginFailure.isRetryable(code: "XX000", message: "Compute is starting"))
    }

    func testNoPasswordWhenAskedFails() {
        var machine = ServerLoginMachine(user: "app", password: nil)
        guard case .fail(let failure) = feed(&machine, Authentication.md5Password(salt: [1, 2, 3, 4])) else { return XCTFail() }
        XCTAssertEqual(failure.code, "28P01")
    }

    func testUnsupportedMethodAndGarbage() {
        var machine = ServerLoginMachine(user: "app", password: "pw")
        guard case .fail(let failure) = feed(&machine, Authentication.unsupported(code: 7)) else { return XCTFail() }
        XCTAssertEqual(failure.code, "0A000")
        var garbage = ServerLoginMachine(user: "app", password: "pw")
        guard case .fail(let violation) = garbage.messageReceived(type: UInt8(ascii: "R"), body: [0, 0][...]) else { return XCTFail() }
        XCTAssertEqual(violation.code, "08P01")
        var early = ServerLoginMachine(user: "app", password: "pw")
        guard case .fail = feed(&early, ReadyForQuery(status: .idle)) else { return XCTFail("RFQ before auth") }
    }
}
