// StatementMapper: a client's named statements mapped to shared server-side ones (transaction mode).
import PostgresWire

/// The client-side half of prepared statements in transaction mode, as a value. A client's names
/// (`stmt1`, `__asyncpg_stmt_2__`, `S_1`) live here; the server-side name (`sluice_N`, shared by
/// every client that prepares the same text and parameter types) comes from the pool. Messages
/// that name a statement are decoded, renamed and re-encoded; everything else is relayed as bytes.
struct StatementMapper {
    /// Named statements one client may keep: a client that prepares without end is closed.
    static let maxStatementsPerClient = 10_000

    private(set) var statements: [String: ClientStatement] = [:]

    enum Action: Equatable {
        /// Prepare `serverName` on the server unless it has it, answering the client's Parse
        /// (`server.prepare(serverName, key:, forClientParse: clientName)`).
        case prepare(serverName: String, key: StatementKey, clientName: String)
        /// Make sure `ensurePrepared` is prepared on the server (when set), push `slot` and send
        /// `bytes`: the client's message with the server-side statement name.
        case forward(bytes: [UInt8], slot: ResponseSlot, ensurePrepared: ClientStatement?)
        /// The client closed a statement Sluice keeps for sharing: push a synthetic CloseComplete.
        case answerCloseComplete
        /// Close the client with this error (too many statements, or a message that does not decode).
        case closeClient(ErrorResponse, reason: String)
    }

    /// A Parse, Bind, Describe or Close that names a statement (see `refersToNamedStatement`).
    /// `serverName` gives the pool's shared name for a statement.
    mutating func statementMessageReceived(type: UInt8, body: ArraySlice<UInt8>,
                                           serverName: (StatementKey) -> String) -> Action {
        do {
            switch type {
            case Parse.typeCode:
                let parse = try Parse.decode(body: body)
                guard let statement = remember(parse, serverName: serverName) else {
                    return .closeClient(Self.tooManyStatementsError, reason: Self.tooManyStatementsReason)
                }
                return .prepare(serverName: statement.serverName, key: statement.key, clientName: parse.statementName)
            case Bind.typeCode:
                var bind = try Bind.decode(body: body)
                let statement = statements[bind.statementName]
                if let statement { bind.statementName = statement.serverName }
                return .forward(bytes: bind.encoded, slot: .bind, ensurePrepared: statement)
            case Describe.typeCode:
                var describe = try Describe.decode(body: body)
                let statement = describe.kind == .statement ? statements[describe.name] : nil
                if let statement { describe.name = statement.serverName }
                return .forward(bytes: describe.encoded, slot: describe.kind == .statement ? .describeStatement : .describePortal,
                                ensurePrepared: statement)
            case Close.typeCode:
                let close = try Close.decode(body: body)
                if close.kind == .statement, statements.removeValue(forKey: close.name) != nil { return .answerCloseComplete }
                return .forward(bytes: close.encoded, slot: .close, ensurePrepared: nil)
            default:
                preconditionFailure("invalid state: \(type) is not a statement message")
            }
        } catch {
            return .closeClient(ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                                              message: "invalid \(Character(Unicode.Scalar(type))) message: \(error)"),
                                reason: "protocol_violation")
        }
    }

    /// A named Parse answered by Sluice without a server (Parse + Sync while idle). Returns nil
    /// when the client already has as many statements as it may (it is then closed).
    mutating func parsedLocally(_ parse: Parse, serverName: (StatementKey) -> String) -> ClientStatement? {
        remember(parse, serverName: serverName)
    }

    /// The error a client gets when it names one statement too many, and the close reason.
    static var tooManyStatementsError: ErrorResponse {
        ErrorResponse(severity: .fatal, code: SQLState.tooManyConnections,
                      message: "too many prepared statements on one connection (\(maxStatementsPerClient))")
    }
    static let tooManyStatementsReason = "too_many_statements"

    /// Whether `DEALLOCATE name` names one of this client's statements (Sluice answers it itself).
    func knows(_ name: String) -> Bool { statements[name] != nil }

    /// `DEALLOCATE name` answered by Sluice, or a Parse the server refused: the name is gone.
    mutating func forget(_ name: String) { statements[name] = nil }

    /// The server ran `DEALLOCATE ALL` or `DISCARD ALL` for this client.
    mutating func forgetAll() { statements.removeAll() }

    private mutating func remember(_ parse: Parse, serverName: (StatementKey) -> String) -> ClientStatement? {
        if statements[parse.statementName] == nil && statements.count >= Self.maxStatementsPerClient { return nil }
        let key = StatementKey(query: parse.query, parameterTypes: parse.parameterTypeOIDs)
        let effect = SessionStateScan.scan(parse.query)
        let statement = ClientStatement(key: key, serverName: serverName(key), sessionEffect: effect.isEmpty ? nil : effect)
        statements[parse.statementName] = statement
        return statement
    }

    /// Whether the Parse/Bind/Describe/Close whose body starts at `body` (of `available` bytes at
    /// `base`) names a statement — not the unnamed one, not a portal; nil when too few of its
    /// bytes have arrived to tell.
    @inline(__always)
    static func refersToNamedStatement(type: UInt8, base: UnsafeRawPointer, body: Int, available: Int) -> Bool? {
        @inline(__always) func byte(_ offset: Int) -> UInt8 { base.load(fromByteOffset: offset, as: UInt8.self) }
        switch type {
        case Parse.typeCode:
            return available > body ? byte(body) != 0 : nil
        case Bind.typeCode:
            // portal name, then statement name: find the first NUL, look at the byte after it.
            var offset = body
            while offset < available && byte(offset) != 0 { offset += 1 }
            return offset + 1 < available ? byte(offset + 1) != 0 : nil
        case Describe.typeCode, Close.typeCode:
            guard available > body + 1 else { return nil }
            return byte(body) == UInt8(ascii: "S") && byte(body + 1) != 0
        default:
            return false
        }
    }
}
