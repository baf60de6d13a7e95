// ClientConnection+Admin: feeds an admin-console client's messages to AdminSession and runs its actions.
import PostgresWire
import SluiceIO

extension ClientConnection {
    /// The client is authenticated to the admin database (its cancel key registered): greet it
    /// and answer its queries from now on.
    func startAdminSession(_ privilege: AdminPrivilege) {
        admin = AdminSession(privilege: privilege)
        loginTimer?.cancel()
        stage = .admin
        send(AdminSession.greeting(applicationName: applicationName, processID: processID, secretKey: secretKey))
        runtime.clientLoggedIn(self)
        updateInterest()
        if input.readableBytes > 0 { process() }
    }

    /// Takes whole messages off the input while the console is not busy with a query.
    func processAdmin() {
        let scanner = FrameScanner(maxMessageSize: runtime.config.maxPacketSize)
        while stage == .admin, admin?.busy == false {
            let type: UInt8, body: [UInt8]
            switch input.nextWholeMessage(scanner) {
            case .incomplete: return
            case .invalid(let length):
                closeWithError(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                             message: "invalid message length \(length)"), reason: "protocol_violation")
                return
            case .message(let messageType, let messageBody): type = messageType; body = messageBody
            }
            guard let action = admin?.messageReceived(type: type, body: body[...], now: runtime.loop.now,
                                                      consoleAvailable: runtime.adminConsole != nil) else { return }
            run(action)
        }
    }

    /// Carries out one of the console session's actions.
    private func run(_ action: AdminSession.Action) {
        switch action {
        case .none: break
        case .send(let bytes): send(bytes)
        case .close(let reason): close(reason: reason)
        case .execute(let query, let privilege):
            guard let console = runtime.adminConsole else { return }
            // With one worker the snapshot comes at once; with more it is gathered from every
            // worker's loop first, and the rest of this client's input waits for the reply.
            runtime.withSnapshot { [self] snapshot in
                guard self.stage == .admin else { return }
                let reply = console.execute(query: query, privilege: privilege, snapshot: snapshot)
                // The action first: when the operator sees "PAUSE", every worker has it queued
                // ahead of anything a client sends afterwards.
                if let action = reply.action { self.runtime.perform(action) }
                guard self.stage == .admin, let bytes = self.admin?.replyReady(reply.bytes) else { return }  // KILL_CLIENT of this very session
                self.send(bytes)
                if self.stage == .admin && self.input.readableBytes > 0 { self.processAdmin() }
            }
        }
    }
}
