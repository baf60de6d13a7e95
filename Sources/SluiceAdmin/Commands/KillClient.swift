// KillClient: `KILL_CLIENT ptr` — close one client connection (its `ptr` from SHOW CLIENTS, or its id).
import PostgresWire
import SluiceCore

/// Admin only. Accepts `0x1f` (the `ptr` column) or a decimal id; replies `KILL_CLIENT` and asks the
/// runtime for `.killClient(id)`. A client that is not connected is 42704.
final class KillClient: AdminCommand {
    let name = "KILL_CLIENT"
    let requiresAdmin = true

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        guard arguments.count == 1, let text = arguments.first else {
            return .syntaxError("KILL_CLIENT needs exactly one client: KILL_CLIENT <ptr>")
        }
        let lowered = text.lowercased()
        let id = lowered.hasPrefix("0x") ? UInt64(lowered.dropFirst(2), radix: 16) : UInt64(lowered)
        guard let id else { return .syntaxError("KILL_CLIENT: \"\(text)\" is not a client ptr such as 0x1f") }
        guard snapshot.clients.contains(where: { $0.id == id }) else {
            return .error(code: SQLState.undefinedObject, message: "no such client: \(text)")
        }
        return .completed(tag: "KILL_CLIENT", action: .killClient(id))
    }
}
