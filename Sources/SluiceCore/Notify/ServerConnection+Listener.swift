// ServerConnection+Listener: what a pool's notification listener connection reads after login.
import PostgresWire

extension ServerConnection {
    /// Linked and relaying, outside a transaction block, nothing owed or half-sent: a notification
    /// may go to its client now (a client that keeps its server between transactions).
    var isIdleBetweenTransactions: Bool {
        guard case .linked = state, client != nil else { return false }
        return transactionStatus == .idle && pendingReadyForQuery == 0 && passthrough == 0 && !session.tracksRequests
    }

    /// The listener's messages, read whole: notifications go to the relay, and so do the replies to
    /// its LISTEN/UNLISTEN batches (an ErrorResponse, then ReadyForQuery). A FATAL closes it (the
    /// relay reconnects).
    func processListenerInput(_ relay: NotificationRelay) {
        forEachMessage { type, body in
            switch type {
            case NotificationResponse.typeCode:
                relay.notificationReceived(body: body)
            case ErrorResponse.typeCode:
                let error = try? ErrorResponse.decode(body: body)
                guard let error, error.severity != "FATAL", error.severity != "PANIC" else {
                    close(reason: "upstream_closed:\(error?.code ?? "?")")
                    return false
                }
                relay.listenerError(error)
            case ReadyForQuery.typeCode:
                relay.listenerReady()
            case ParameterStatus.typeCode:
                if let status = try? ParameterStatus.decode(body: body) { parameters.reported(name: status.name, value: status.value) }
            default:
                break  // CommandComplete of each statement, notices
            }
            // The relay may have closed this connection (a failed batch): read no further.
            return socket.map { !$0.isClosed } ?? false
        }
    }
}
