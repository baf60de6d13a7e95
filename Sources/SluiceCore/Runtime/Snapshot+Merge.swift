// Snapshot+Merge: one process-wide snapshot from the workers' snapshots (`workers` > 1).
import SluiceConfig

extension ProxySnapshot {
    /// Workers' snapshots combined: clients and servers listed together (ids are unique across
    /// workers), each database's pool summed over its per-worker pools, counters added up.
    /// The first part's config and start time stand for the process.
    public static func merged(_ parts: [ProxySnapshot]) -> ProxySnapshot {
        guard var result = parts.first else { preconditionFailure("no snapshot to merge") }
        guard parts.count > 1 else { return result }
        for part in parts.dropFirst() {
            result.startedAt = min(result.startedAt, part.startedAt)
            result.takenAt = max(result.takenAt, part.takenAt)
            result.paused = result.paused || part.paused
            result.shuttingDown = result.shuttingDown || part.shuttingDown
            result.clients += part.clients
            result.servers += part.servers
            result.totals.add(part.totals)
            for pool in part.pools {
                if let index = result.pools.firstIndex(where: { $0.database == pool.database }) {
                    result.pools[index].add(pool)
                } else {
                    result.pools.append(pool)
                }
            }
        }
        result.pools.sort { $0.database < $1.database }
        result.clients.sort { $0.id < $1.id }
        result.servers.sort { $0.id < $1.id }
        return result
    }
}

extension PoolSnapshot {
    /// Adds another worker's pool of the same database.
    mutating func add(_ other: PoolSnapshot) {
        poolSize += other.poolSize
        minPoolSize += other.minPoolSize
        paused = paused || other.paused
        clientsActive += other.clientsActive
        clientsWaiting += other.clientsWaiting
        clientsIdle += other.clientsIdle
        clientsIdleInTransaction += other.clientsIdleInTransaction
        clientsLogin += other.clientsLogin
        serversActive += other.serversActive
        serversIdle += other.serversIdle
        serversUsed += other.serversUsed
        serversTested += other.serversTested
        serversLogin += other.serversLogin
        maxWaitSeconds = max(maxWaitSeconds, other.maxWaitSeconds)
        notifyChannels += other.notifyChannels
        notifySubscribers += other.notifySubscribers
        notifyListeners += other.notifyListeners
        stats.add(other.stats)
        if lastConnectError == nil { lastConnectError = other.lastConnectError }
    }
}

extension PoolStats {
    mutating func add(_ other: PoolStats) {
        bytesReceived += other.bytesReceived
        bytesSent += other.bytesSent
        transactionMicroseconds += other.transactionMicroseconds
        queryMicroseconds += other.queryMicroseconds
        checkoutRequests += other.checkoutRequests
        checkouts += other.checkouts
        waitMicroseconds += other.waitMicroseconds
        transactions += other.transactions
        queries += other.queries
        serversOpened += other.serversOpened
        serversClosed += other.serversClosed
        connectFailures += other.connectFailures
        serverChecks += other.serverChecks
        leakSuspects += other.leakSuspects
        reserveServersOpened += other.reserveServersOpened
        queueRefusals += other.queueRefusals
        statementsPrepared += other.statementsPrepared
        statementParses += other.statementParses
        queueTimeouts += other.queueTimeouts
        pins.merge(other.pins, uniquingKeysWith: +)
        serverResets.merge(other.serverResets, uniquingKeysWith: +)
        hostsPassedOver.merge(other.hostsPassedOver, uniquingKeysWith: +)
        replicaLagExclusions += other.replicaLagExclusions
        notificationsReceived += other.notificationsReceived
        notificationsDelivered += other.notificationsDelivered
        notificationsDropped += other.notificationsDropped
        notifyQueueOverflows += other.notifyQueueOverflows
        notifyListenerReconnects += other.notifyListenerReconnects
    }
}

extension RuntimeStats {
    mutating func add(_ other: RuntimeStats) {
        clientsAccepted += other.clientsAccepted
        clientsRefused += other.clientsRefused
        clientLogins += other.clientLogins
        authFailures += other.authFailures
        cancelRequests += other.cancelRequests
        cancelsForwarded += other.cancelsForwarded
        leakSuspects += other.leakSuspects
        queryTimeouts += other.queryTimeouts
        limitRefusals.merge(other.limitRefusals, uniquingKeysWith: +)
        tlsHandshakes.merge(other.tlsHandshakes, uniquingKeysWith: +)
        tlsFailures.merge(other.tlsFailures, uniquingKeysWith: +)
        clientCloses.merge(other.clientCloses, uniquingKeysWith: +)
        serverCloses.merge(other.serverCloses, uniquingKeysWith: +)
    }
}
