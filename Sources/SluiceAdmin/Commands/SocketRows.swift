// SocketRows: the columns `SHOW CLIENTS` and `SHOW SERVERS` share (PgBouncer's `socket_header`).
import SluiceCore

/// PgBouncer 1.18's socket columns (`SKF_STD`), then Sluice's `held_for_s` and `tx_state`.
enum SocketRows {
    static let columns: [Column] = [
        .text("type"), .text("user"), .text("database"), .text("state"),
        .text("addr"), .int4("port"), .text("local_addr"), .int4("local_port"),
        .text("connect_time"), .text("request_time"), .int4("wait"), .int4("wait_us"), .int4("close_needed"),
        .text("ptr"), .text("link"), .int4("remote_pid"), .text("tls"), .text("application_name"),
        .numeric("held_for_s"), .text("tx_state"),
    ]

    /// One row; `local` is the listen address clients reach (NULL for servers and when there are several).
    struct Row {
        var type: String
        var user: String
        var database: String
        var state: String
        var address: String
        var port: Int
        var local: ListenAddressText?
        var connectedAt: Double
        var requestAt: Double
        var waitSeconds: Double
        var pointer: String
        var link: String
        var remotePID: Int
        var tls: String?
        var applicationName: String
        var heldSeconds: Double?
        var transactionStatus: String?

        var values: [Value] {
            let wait = splitSeconds(waitSeconds)
            return [
                .text(type), .text(user), .text(database), .text(state),
                .text(address), .int(port), .text(local?.host), local.map { .int($0.port) } ?? .null,
                .text(formatTimestamp(connectedAt)), .text(formatTimestamp(requestAt)),
                .int(wait.seconds), .int(wait.microseconds), .int(0),
                .text(pointer), .text(link), .int(remotePID), .text(tls ?? ""), .text(applicationName),
                heldSeconds.map { .decimal($0) } ?? .null, .text(transactionStatus),
            ]
        }
    }

    /// The address clients connect to, when Sluice listens on exactly one.
    struct ListenAddressText {
        var host: String
        var port: Int
    }

    static func clientLocalAddress(_ snapshot: ProxySnapshot) -> ListenAddressText? {
        guard snapshot.config.listen.count == 1, let address = snapshot.config.listen.first else { return nil }
        return ListenAddressText(host: address.host, port: address.port)
    }
}
