// CancelForwarder: sends one CancelRequest to the upstream on a new connection, then closes it.
import SluiceIO

/// Fire-and-forget delivery of a CancelRequest packet.
final class CancelForwarder {
    private static var inFlight: [ObjectIdentifier: CancelForwarder] = [:]
    private var connector: Connector?

    static func send(_ packet: [UInt8], host: String, port: Int, timeout: Double, loop: EventLoop) {
        let forwarder = CancelForwarder()
        let id = ObjectIdentifier(forwarder)
        inFlight[id] = forwarder
        forwarder.connector = Connector.connect(host: host, port: port, timeout: timeout, loop: loop) { result in
            inFlight[id] = nil
            guard case .success(let fd) = result else { return }
            let socket = TCPSocket(fd: fd)
            _ = socket.write(packet)
            socket.close()
        }
    }
}
