// Tests for ClientLoginMachine: startup packets, SCRAM and md5 exchanges, every refusal path.
import XCTest
import PostgresWire
@testable import SluiceCore

final class ClientLoginTests: XCTestCase {
    let secret = SCRAMSecret.derive(password: "app-secret", salt: Array(repeating: 7, count: 16))

    func lookup(_ database: String, _ user: String) -> LoginLookup {
        guard database == "app" || database == "secure" else { return .unknownDatabase }
        let tls = database == "secure"
        guard user == "app" else { return .database(credentials: nil, tlsRequired: tls) }
        return .database(credentials: ClientCredentials(user: "app", password: "app-secret", scram: secret), tlsRequired: tls)
    }

    func startup(_ pairs: [(String, String)], version: UInt32 = StartupPacket.protocolVersion3) -> StartupPacket {
        .startup(protocolVersion: version, parameters: StartupParameters(pairs))
    }

    func body(_ message: some FrontendMessage) -> ArraySlice<UInt8> { message.encoded.dropFirst(5) }

    func fatal(_ action: ClientLoginMachine.Action, file: StaticString = #filePath, line: UInt = #line) -> ErrorResponse? {
        guard case .sendErrorAndClose(let error, _) = action else {
            XCTFail("expected an error, got \(action)", file: file, line: line)
            return nil
        }
        XCTAssertEqual(error.severity, "FATAL", file: file, line: line)
        return error
    }

    func testSSLRequestIsRefusedWithN() {
        var machine = ClientLoginMachine(method: .scramSHA256, randomBytes: { Array(repeating: 1, count: $0) })
        guard case .refuseEncryption = machine.startupPacketReceived(.sslRequest, lookup: lookup) else { return XCTFail() }
        guard case .refuseEncryption = machine.startupPacketReceived(.gssEncRequest, lookup: lookup) else { return XCTFail() }
        guard case .send = machine.startupPacketReceived(startup([("user", "app"), ("database", "app")]), lookup: lookup) else {
            return XCTFail("startup after SSLRequest must proceed")
        }
    }

    func testSSLRequestIsAcceptedWhenTLSIsAvailable() {
        var machine = ClientLoginMachine(method: .scramSHA256, tlsAvailable: true, randomBytes: { Array(repeating: 1, count: $0) })
        guard case .acceptTLS = machine.startupPacketReceived(.sslRequest, lookup: lookup) else { return XCTFail() }
        machine.isTLS = true
        XCTAssertEqual(fatal(machine.startupPacketReceived(.sslRequest, lookup: lookup))?.code, "08P01",
                       "a second SSLRequest inside TLS is a protocol violation")
    }

    func testTLSRequiredRefusesPlaintextBeforeAuthentication() {
        var machine = ClientLoginMachine(method: .scramSHA256, tlsAvailable: true, randomBytes: { Array(repeating: 1, count: $0) })
        let error = fatal(machine.startupPacketReceived(startup([("user", "app"), ("database", "secure")]), lookup: lookup))
        XCTAssertEqual(error?.code, "28000")
        XCTAssertTrue(error?.message?.contains("sslmode=require") ?? false)
        var encrypted = ClientLoginMachine(method: .scramSHA256, tlsAvailable: true, randomBytes: { Array(repeating: 1, count: $0) })
        encrypted.isTLS = true
        guard case .send = encrypted.startupPacketReceived(startup([("user", "app"), ("database", "secure")]), lookup: lookup) else {
            return XCTFail("TLS client must be let in")
        }
    }

    func testCancelRequestIsForwarded() {
        var machine = ClientLoginMachine(method: .scramSHA256, randomBytes: { Array(repeating: 1, count: $0) })
        guard case .forwardCancel(let pid, let key) = machine.startupPacketReceived(
            .cancelRequest(processID: 42, secretKey: 99), lookup: lookup) else { return XCTFail() }
        XCTAssertEqual(pid, 42)
        XCTAssertEqual(key, 99)
    }

    func testUnknownDatabase() {
        var machine = ClientLoginMachine(method: .scramSHA256, randomBytes: { Array(repeating: 1, count: $0) })
        let error = fatal(machine.startupPacketReceived(startup([("user", "app"), ("database", "nope")]), lookup: lookup))
        XCTAssertEqual(error?.code, "3D000")
        XCTAssertEqual(error?.message, "database \"nope\" does not exist in sluice config")
    }

    func testMissingUser() {
        var machine = ClientLoginMachine(method: .scramSHA256, randomBytes: { Array(repeating: 1, count: $0) })
        XCTAssertEqual(fatal(machine.startupPacketReceived(startup([("database", "app")]), lookup: lookup))?.code, "28000")
    }

    func testProtocolVersion2IsRefused() {
        var machine = ClientLoginMachine(method: .scramSHA256, randomBytes: { Array(repeating: 1, count: $0) })
        let error = fatal(machine.startupPacketReceived(startup([], version: 2 << 16), lookup: lookup))
        XCTAssertEqual(error?.code, "0A000")
        XCTAssertTrue(error?.message?.contains("unsupported frontend protocol 2.0") ?? false)
    }

    func testMinorVersionGetsNegotiateProtocolVersion() {
        var machine = ClientLoginMachine(method: .md5, randomBytes: { Array(repeating: 1, count: $0) })
        guard case .send(let bytes) = machine.startupPacketReceived(
            startup([("user", "app"), ("database", "app"), ("_pq_.foo", "x")], version: 3 << 16 | 2), lookup: lookup) else {
            return XCTFail()
        }
        XCTAssertEqual(bytes.first, UInt8(ascii: "v"))
        var decoder = MessageDecoder(maxPacketSize: 1 << 20)
        decoder.append(bytes)
        let first = try! decoder.next()!
        let negotiate = try! NegotiateProtocolVersion.decode(body: first.body)
        XCTAssertEqual(negotiate.newestMinorVersion, 0)
        XCTAssertEqual(negotiate.unrecognizedOptions, ["_pq_.foo"])
    }

    func testStartupParametersAndOptionsBecomeWantedSettings() {
        var machine = ClientLoginMachine(method: .md5, randomBytes: { Array(repeating: 1, count: $0) })
        _ = machine.startupPacketReceived(startup([
            ("user", "app"), ("database", "app"), ("application_name", "web"), ("extra_float_digits", "2"),
            ("options", "-c search_path=a,b --statement_timeout=5s -cwork_mem=64MB"),
        ]), lookup: lookup)
        XCTAssertEqual(machine.parameters["application_name"], "web")
        XCTAssertEqual(machine.parameters["extra_float_digits"], "2")
        XCTAssertEqual(machine.parameters["search_path"], "a,b")
        XCTAssertEqual(machine.parameters["statement_timeout"], "5s")
        XCTAssertEqual(machine.parameters["work_mem"], "64MB")
        XCTAssertNil(machine.parameters["user"])
        XCTAssertEqual(machine.applicationName, "web")
    }

    func testDatabaseDefaultsToUser() {
        var machine = ClientLoginMachine(method: .md5, randomBytes: { Array(repeating: 1, count: $0) })
        guard case .send = machine.startupPacketReceived(startup([("user", "app")]), lookup: lookup) else { return XCTFail() }
        XCTAssertEqual(machine.database, "app")
    }

    func testMD5RightAndWrongPassword() {
        let salt: [UInt8] = [9, 8, 7, 6]
        var machine = ClientLoginMachine(method: .md5, randomBytes: { _ in salt })
        guard case .send(let request) = machine.startupPacketReceived(startup([("user", "app"), ("database", "app")]), lookup: lookup) else {
            return XCTFail()
        }
        XCTAssertEqual(request, Authentication.md5Password(salt: salt).encoded)
        let good = PasswordMessage(password: MD5Password.hash(user: "app", password: "app-secret", salt: salt))
        guard case .authenticated(let ok) = machine.passwordMessageReceived(body: body(good)) else { return XCTFail() }
        XCTAssertEqual(ok, Authentication.ok.encoded)

        var other = ClientLoginMachine(method: .md5, randomBytes: { _ in salt })
        _ = other.startupPacketReceived(startup([("user", "app"), ("database", "app")]), lookup: lookup)
        let bad = PasswordMessage(password: MD5Password.hash(user: "app", password: "guess", salt: salt))
        let error = fatal(other.passwordMessageReceived(body: body(bad)))
        XCTAssertEqual(error?.code, "28P01")
        XCTAssertEqual(error?.message, "password authentication failed for user \"app\"")
    }

    func scramLogin(password: String, user: String = "app") -> ClientLoginMachine.Action {
        var machine = ClientLoginMachine(method: .scramSHA256, randomBytes: { Array(repeating: 3, count: $0) })
        guard case .send(let request) = machine.startupPacketReceived(startup([("user", user), ("database", "app")]), lookup: lookup) else {
            XCTFail("no SASL request")
            return .refuseEncryption
        }
        XCTAssertEqual(request, Authentication.sasl(mechanisms: ["SCRAM-SHA-256"]).encoded)
        var client = SCRAMClientExchange(password: password)
        let first = client.initialResponse()
        guard case .send(let continueBytes) = machine.passwordMessageReceived(
            body: body(SASLInitialResponse(mechanism: first.mechanism, data: first.data))) else {
            XCTFail("no SASL continue")
            return .refuseEncryption
        }
        guard case .saslContinue(let serverFirst) = try! Authentication.decode(body: continueBytes.dropFirst(5)) else {
            XCTFail("not SASLContinue")
            return .refuseEncryption
        }
        guard case .success(let clientFinal) = client.serverFirstReceived(serverFirst) else {
            XCTFail("client rejected server-first")
            return .refuseEncryption
        }
        return machine.passwordMessageReceived(body: body(SASLResponse(data: clientFinal)))
    }

    func testSCRAMRightPassword() {
        guard case .authenticated(let bytes) = scramLogin(password: "app-secret") else { return XCTFail() }
        var decoder = MessageDecoder(maxPacketSize: 1 << 20)
        decoder.append(bytes)
        guard case .saslFinal = try! Authentication.decode(body: try! decoder.next()!.body) else { return XCTFail() }
        XCTAssertEqual(try! Authentication.decode(body: try! decoder.next()!.body), .ok)
    }

    func testSCRAMWrongPasswordAndUnknownUser() {
        XCTAssertEqual(fatal(scramLogin(password: "nope"))?.code, "28P01")
        let error = fatal(scramLogin(password: "app-secret", user: "mallory"))
        XCTAssertEqual(error?.code, "28P01")
        XCTAssertEqual(error?.message, "password authentication failed for user \"mallory\"")
    }

    func testWrongSASLMechanismAndGarbage() {
        var machine = ClientLoginMachine(method: .scramSHA256, randomBytes: { Array(repeating: 3, count: $0) })
        _ = machine.startupPacketReceived(startup([("user", "app"), ("database", "app")]), lookup: lookup)
        XCTAssertEqual(fatal(machine.passwordMessageReceived(body: body(SASLInitialResponse(mechanism: "PLAIN", data: []))))?.code, "08P01")
        var garbage = ClientLoginMachine(method: .scramSHA256, randomBytes: { Array(repeating: 3, count: $0) })
        _ = garbage.startupPacketReceived(startup([("user", "app"), ("database", "app")]), lookup: lookup)
        XCTAssertEqual(fatal(garbage.passwordMessageReceived(body: [1, 2, 3]))?.code, "08P01")
    }

    func testMessageBeforeStartupIsProtocolViolation() {
        var machine = ClientLoginMachine(method: .scramSHA256, randomBytes: { Array(repeating: 3, count: $0) })
        XCTAssertEqual(fatal(machine.passwordMessageReceived(body: []))?.code, "08P01")
    }
}
