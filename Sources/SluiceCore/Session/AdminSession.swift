// AdminSession: the admin console's side of a client connection, as a pure state machine.
import PostgresWire

/// A client logged in to the admin database (`sluice` or `pgbouncer`): Sluice answers it itself.
/// Only the simple query protocol is served. An extended-protocol message gets one ERROR and
/// the rest of its batch is skipped up to Sync; while a query's snapshot is being gathered (from
/// every worker) the session is busy and later input waits. `ClientConnection` feeds it whole
/// messages, runs the console and sends what the actions say.
struct AdminSession {
    enum Action: Equatable {
        /// Nothing to send (a message of a refused extended-protocol batch).
        case none
        /// Write these bytes to the client.
        case send([UInt8])
        /// Run `query` on the console over a snapshot, then report `replyReady`; input waits till then.
        case execute(query: String, privilege: AdminPrivilege)
        /// Close the connection (`reason` for the log and counters).
        case close(reason: String)
    }

    /// `admin_users` may act; `stats_users` may only look.
    let privilege: AdminPrivilege
    /// An extended-protocol message was refused: the rest of its batch is skipped up to Sync.
    private(set) var skippingToSync = false
    /// A query waits for its snapshot; input waits for its reply.
    private(set) var busy = false
    /// When the last message arrived.
    private(set) var requestAt: UInt64 = 0

    init(privilege: AdminPrivilege) {
        self.privilege = privilege
    }

    /// What the client is told at the end of login: ParameterStatus for the settings clients
    /// expect, its cancel key, ReadyForQuery 'I'.
    static func greeting(applicationName: String, processID: Int32, secretKey: UInt32) -> [UInt8] {
        var writer = MessageWriter()
        for (name, value) in [("server_version", "15.0 (\(sluiceVersion))"), ("server_encoding", "UTF8"),
                              ("client_encoding", "UTF8"), ("DateStyle", "ISO"), ("TimeZone", "UTC"),
                              ("integer_datetimes", "on"), ("standard_conforming_strings", "on"),
                              ("application_name", applicationName)] {
            writer.write(ParameterStatus(name: name, value: value))
        }
        writer.write(BackendKeyData(processID: processID, secretKey: secretKey))
        writer.write(ReadyForQuery(status: .idle))
        return writer.bytes
    }

    /// A whole message arrived (only while not `busy`). `consoleAvailable`: this build has a console.
    mutating func messageReceived(type: UInt8, body: ArraySlice<UInt8>, now: UInt64, consoleAvailable: Bool) -> Action {
        requestAt = now
        switch type {
        case Terminate.typeCode:
            return .close(reason: "client_close")
        case Query.typeCode:
            let text = (try? Query.decode(body: body).query) ?? ""
            guard consoleAvailable else {
                var bytes = ErrorResponse(severity: .error, code: SQLState.featureNotSupported,
                                          message: "the admin console is not available in this build").encoded
                ReadyForQuery(status: .idle).encode(into: &bytes)
                return .send(bytes)
            }
            busy = true
            return .execute(query: text, privilege: privilege)
        case Sync.typeCode:
            skippingToSync = false
            return .send(ReadyForQuery(status: .idle).encoded)
        default:
            guard !skippingToSync else { return .none }
            skippingToSync = true
            return .send(ErrorResponse(severity: .error, code: SQLState.featureNotSupported,
                                       message: "the admin console supports the simple query protocol only").encoded)
        }
    }

    /// The console answered the query (`reply`: its messages, without ReadyForQuery): returns
    /// what to send, and later input is read again.
    mutating func replyReady(_ reply: [UInt8]) -> [UInt8] {
        busy = false
        var bytes = reply
        ReadyForQuery(status: .idle).encode(into: &bytes)
        return bytes
    }
}
