// ServerConnection+Internal: messages read whole off the relay: Sluice's own statements, and what an idle server sends.
import PostgresWire
import SluiceIO

extension ServerConnection {
    /// Calls `body` for each whole message in `input`; stops early when it returns false.
    func forEachMessage(_ body: (UInt8, ArraySlice<UInt8>) -> Bool) {
        let scanner = FrameScanner(maxMessageSize: runtime.config.maxPacketSize)
        while true {
            switch input.nextWholeMessage(scanner) {
            case .incomplete: return
            case .invalid: close(reason: "protocol_violation"); return
            case .message(let type, let bodyBytes): if !body(type, bodyBytes[...]) { return }
            }
        }
    }

    // MARK: an idle server

    /// An idle server sent something: a FATAL before closing (idle timeout, admin shutdown), a notice, or a parameter change.
    func processUnsolicited() {
        if let relay = notificationRelay { processListenerInput(relay); return }
        forEachMessage { type, body in
            switch type {
            case ErrorResponse.typeCode:
                let error = try? ErrorResponse.decode(body: body)
                close(reason: "upstream_closed:\(error?.code ?? "?")")
                return false
            case ParameterStatus.typeCode:
                if let status = try? ParameterStatus.decode(body: body) {
                    parameters.reported(name: status.name, value: status.value)
                    roleParameterReported(name: status.name)
                    if case .closed = state { return false }
                }
                return true
            case NoticeResponse.typeCode, NotificationResponse.typeCode:
                return true
            default:
                close(reason: "protocol_violation")
                return false
            }
        }
    }

    // MARK: internal statements (parameter alignment, ROLLBACK and reset, the health check)

    /// Carries out the next step of the internal statements; false when they are over.
    @discardableResult
    func run(_ action: ServerSessionMachine.InternalAction) -> Bool {
        switch action {
        case .sendQuery(let sql):
            send(Query(sql).encoded)
            return true
        case .finish(let error):
            let completion = internalCompletion
            internalCompletion = nil
            completion?(error)
            return false
        }
    }

    /// Absorbs the replies to internal statements; the machine says what comes next.
    func processInternal() {
        forEachMessage { type, body in
            switch type {
            case ErrorResponse.typeCode:
                let error = try? ErrorResponse.decode(body: body)
                if let error, error.severity == "FATAL" || error.severity == "PANIC" { lostWithError = error }
                session.internalErrorReceived(error)
            case ParameterStatus.typeCode:
                if let status = try? ParameterStatus.decode(body: body) {
                    parameters.reported(name: status.name, value: status.value)
                    roleParameterReported(name: status.name)
                }
            case DataRow.typeCode where internalFirstValue == nil && body.count <= 1024:
                // The lag check reads its one value; other internal statements return no rows.
                if let row = try? DataRow.decode(body: body), let column = row.columns.first ?? nil {
                    internalFirstValue = String(decoding: column, as: UTF8.self)
                }
            case ReadyForQuery.typeCode:
                let status = (try? ReadyForQuery.decode(body: body))?.status ?? .idle
                return run(session.internalReadyForQueryReceived(status: status))
            default:
                break
            }
            return true
        }
        // The completion may have handed us to a client whose bytes are already waiting.
        if case .linked = state, input.readableBytes > 0 { relayToClient() }
    }
}
