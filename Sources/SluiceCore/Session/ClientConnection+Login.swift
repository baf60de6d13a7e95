// ClientConnection+Login: the startup packet, the TLS handshake and the authentication exchange, fed to ClientLoginMachine.
import PostgresWire
import SluiceIO

extension ClientConnection {
    // MARK: TLS

    func startTLS(direct: Bool) {
        guard let context = runtime.clientTLSContext, let tls = try? TLSSession(context: context, role: .server) else {
            close(reason: "tls_unavailable")
            return
        }
        directTLS = direct
        if direct {
            socket.startTLS(tls, alreadyReceived: UnsafeRawBufferPointer(start: input.readPointer, count: input.readableBytes))
            input.clear()
        } else {
            socket.startTLS(tls)
        }
        stage = .tlsHandshake
        driveHandshake()
    }

    func driveHandshake() {
        switch socket.continueHandshake() {
        case .needsIO:
            _ = interest.update(read: true, write: socket.hasPendingWrites, socket: socket, loop: runtime.loop)
        case .failed(let error):
            runtime.countTLSHandshake(side: "client", version: nil, failure: "handshake_failed")
            runtime.logger.info("client TLS handshake failed", metadata: ["client": "\(peer)", "error": "\(error)"])
            close(reason: "tls_handshake_failed", quiet: true)
        case .complete:
            let tls = socket.tlsSession
            if directTLS && tls?.alpn != "postgresql" {
                runtime.countTLSHandshake(side: "client", version: nil, failure: "no_alpn")
                runtime.logger.info("direct TLS connection without ALPN postgresql refused", metadata: ["client": "\(peer)"])
                close(reason: "tls_no_alpn", quiet: true)
                return
            }
            runtime.countTLSHandshake(side: "client", version: tls?.negotiatedProtocol, failure: nil)
            login.isTLS = true
            stage = .startup
            updateInterest()
            if socket.hasBufferedPlaintext { readAvailable() }
        }
    }

    // MARK: startup and login

    func processStartup() {
        if !socket.isTLS && input.readableBytes >= 1 && input.byte(at: 0) == 0x16 {
            // A TLS ClientHello instead of a startup packet: direct TLS negotiation.
            if login.isTLS == false && runtime.clientTLSAvailable { startTLS(direct: true) } else { close(reason: "tls_unavailable") }
            return
        }
        while phase == .startup {
            let length: Int
            switch FrameScanner.startupFrame(UnsafeRawPointer(input.readPointer), count: input.readableBytes) {
            case .incomplete: return
            case .invalid:
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                             message: "invalid length of startup packet"), reason: "protocol_violation")
                return
            case .packet(let packetLength): length = packetLength
            }
            guard input.readableBytes >= length else { return }
            let body = input.bytes(at: 4, count: length - 4)
            input.consume(length)
            let packet: StartupPacket
            do { packet = try StartupPacket.decode(body: body[...]) } catch {
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                             message: "invalid startup packet layout: \(error)"), reason: "protocol_violation")
                return
            }
            perform(login.startupPacketReceived(packet) { [runtime] database, user in
                runtime.lookup(database: database, user: user)
            })
        }
    }

    func processLogin() {
        let scanner = FrameScanner(maxMessageSize: Framing.maxAuthenticationMessageSize)
        while phase == .login {
            let type: UInt8, body: [UInt8]
            switch input.nextWholeMessage(scanner) {
            case .incomplete: return
            case .invalid(let length):
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                             message: "invalid message length \(length) during authentication"), reason: "protocol_violation")
                return
            case .message(let messageType, let messageBody): type = messageType; body = messageBody
            }
            if type == UInt8(ascii: "p") {
                perform(login.passwordMessageReceived(body: body[...]))
            } else if type == UInt8(ascii: "X") {
                close(reason: "client_close")
            } else {
                perform(login.unexpectedMessageReceived(type: type))
            }
        }
    }
}
