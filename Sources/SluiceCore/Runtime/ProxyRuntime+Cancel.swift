// ProxyRuntime+Cancel: the BackendKeyData handed to clients, and CancelRequests routed to the server a client holds.

extension ProxyRuntime {
    /// A BackendKeyData for a client: the pid of its server's backend (`processID`, session mode)
    /// or a random one, and always a secret of Sluice's own whose remainder by `workers` names
    /// this worker, unique among this worker's keys.
    func registerCancelKey(for client: ClientConnection, processID: Int32? = nil) -> (Int32, UInt32) {
        while true {
            let bytes = secureRandomBytes(8)
            let pid = processID ?? Int32(bitPattern: UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16
                                                     | UInt32(bytes[2]) << 8 | UInt32(bytes[3])) & 0x7fff_ffff
            let random = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
            let secret = CancelKeys.secret(random: random, worker: worker, workers: workerCount)
            guard pid > 0, cancelKeys.register(processID: pid, secret: secret, client: client.id) else { continue }
            return (pid, secret)
        }
    }

    /// Forwards a CancelRequest to the server the client holds now, if any: after a session's
    /// server was replaced (`server_loss = "recover"`) that is the new backend, not the pid the
    /// client was given.
    func forwardCancel(processID: Int32, secretKey: UInt32) {
        if workerCount > 1, CancelKeys.worker(of: secretKey, workers: workerCount) != worker, let group {
            group.forwardCancel(processID: processID, secretKey: secretKey)  // counted by the owner
            return
        }
        stats.cancelRequests += 1
        guard let id = cancelKeys.client(processID: processID, secret: secretKey), let client = clients[id] else {
            logger.debug("cancel request for an unknown key ignored")
            return
        }
        guard let server = client.server, server.backendKey != nil else { return }
        server.cancelBackend()
        stats.cancelsForwarded += 1
    }
}
