// FuzzClientLogin: libFuzzer target: ClientLoginMachine fed a startup packet and 'p' message bodies from the input.
import PostgresWire
import SluiceCore

/// The known user's credentials: password "app-secret", SCRAM verifier with 1 iteration (cheap).
private let credentials = ClientCredentials(
    user: "app", password: "app-secret",
    scram: SCRAMSecret.derive(password: "app-secret", salt: Array("0123456789abcdef".utf8), iterations: 1))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let control = data[0]
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    // control bit 0: md5 (else SCRAM); bit 1: TLS offered; bit 2: already TLS; bits 3-4: what the router says.
    let method: ClientAuthentication = control & 1 == 0 ? .scramSHA256 : .md5
    var counter: UInt8 = 0
    var machine = ClientLoginMachine(method: method, tlsAvailable: control & 2 != 0) { count in
        // Deterministic "random" bytes so crashes replay.
        (0..<count).map { _ in counter &+= 37; return counter }
    }
    machine.isTLS = control & 4 != 0
    let lookupMode = (control >> 3) & 3
    let lookup: (String, String) -> LoginLookup = { _, user in
        switch lookupMode {
        case 0: .unknownDatabase
        case 1: .database(credentials: user == "app" ? credentials : nil, tlsRequired: false)
        case 2: .database(credentials: credentials, tlsRequired: true)
        default: .database(credentials: nil, tlsRequired: false)
        }
    }
    // The stream: startup packets (length-prefixed) until one is a StartupMessage, then typed messages.
    var decoder = MessageDecoder(maxPacketSize: 65_536)
    decoder.append(stream)
    var steps = 0
    while steps < 64 {
        steps += 1
        switch machine.state {
        case .awaitingStartup:
            guard let body = try? decoder.nextStartupPacket() else { return 0 }
            guard let packet = try? StartupPacket.decode(body: body) else { return 0 }
            check(machine.startupPacketReceived(packet, lookup: lookup), machine, lookupMode)
        case .authenticated, .failed:
            return 0
        default:
            guard let message = try? decoder.next() else { return 0 }
            if message.type == UInt8(ascii: "p") {
                check(machine.passwordMessageReceived(body: message.body), machine, lookupMode)
            } else {
                check(machine.unexpectedMessageReceived(type: message.type), machine, lookupMode)
            }
        }
    }
    return 0
}

/// Actions must agree with the state they leave behind.
private func check(_ action: ClientLoginMachine.Action, _ machine: ClientLoginMachine, _ lookupMode: UInt8) {
    switch action {
    case .sendErrorAndClose(let error, _):
        guard case .failed = machine.state else { preconditionFailure("error action without the failed state") }
        precondition(error.code?.count == 5, "ErrorResponse without a SQLSTATE")
    case .authenticated:
        guard case .authenticated = machine.state else { preconditionFailure("authenticated action in another state") }
        // Mode 0: no database; mode 3: no credentials; mode 1: credentials only for "app".
        precondition(lookupMode == 2 || lookupMode == 1 && machine.user == "app",
                     "authenticated a user whose credentials were never given")
        precondition(lookupMode != 2 || machine.isTLS, "tlsRequired database authenticated without TLS")
    case .forwardCancel:
        guard case .failed = machine.state else { preconditionFailure("cancel request leaves the machine open") }
    case .send, .refuseEncryption, .acceptTLS:
        break
    }
}
