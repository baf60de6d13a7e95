// ProxyRuntime+Snapshot: copies the runtime's state for the admin console and /metrics.
import Foundation
import PostgresWire

extension ProxyRuntime {
    func unixTime(_ loopTime: UInt64) -> Double {
        startedAtUnix + Double(Int64(bitPattern: loopTime &- startedAtLoop)) / 1000
    }

    /// The state `SHOW CLIENTS` and the metrics give a client (nil: closed, not shown): `login`,
    /// `idle`, `waiting`, `active`, or `idle_in_transaction` for a client holding a server inside a
    /// transaction block with no request running.
    static func clientStateName(_ phase: ClientConnection.Phase, serverInTransaction: Bool, requestRunning: Bool) -> String? {
        switch phase {
        case .startup, .tlsHandshake, .login, .awaitingParameters: return "login"
        case .idle, .admin: return "idle"
        case .waiting: return "waiting"
        case .linked: return serverInTransaction && !requestRunning ? "idle_in_transaction" : "active"
        case .closed: return nil
        }
    }

    /// Copies the state for the admin console and metrics (call on the loop).
    public func snapshot() -> ProxySnapshot {
        checkLeaks()  // suspects past the threshold are reported (and counted) before anyone reads them
        let now = loop.now
        var clientSnapshots: [ClientSnapshot] = []
        var poolClients: [String: (active: Int, waiting: Int, idle: Int, idleInTx: Int, login: Int)] = [:]
        for client in clients.values {
            guard let state = Self.clientStateName(
                client.phase, serverInTransaction: client.server.map { $0.transactionStatus != .idle } ?? false,
                requestRunning: (client.server?.pendingReadyForQuery ?? 0) > 0) else { continue }
            var counts = poolClients[client.database] ?? (0, 0, 0, 0, 0)
            switch state {
            case "active": counts.active += 1
            case "waiting": counts.waiting += 1
            case "idle": counts.idle += 1
            case "idle_in_transaction": counts.idleInTx += 1
            default: counts.login += 1
            }
            poolClients[client.database] = counts
            clientSnapshots.append(ClientSnapshot(
                id: client.id, user: client.user, database: client.database, state: state,
                address: client.peer.host, port: client.peer.port, connectedAt: unixTime(client.connectedAt),
                requestAt: unixTime(max(client.requestAt, client.connectedAt)),
                waitSeconds: client.phase == .waiting ? Double(now &- client.waitStartedAt) / 1000 : 0,
                applicationName: client.applicationName, serverID: client.server?.id,
                heldSeconds: client.heldSeconds(now: now),
                transactionStatus: client.server.map { String(UnicodeScalar($0.transactionStatus.rawValue)) },
                processID: client.processID, tls: client.tlsDescription, lastQuery: config.logLeakQueries ? client.lastQuery : nil,
                isAdmin: client.phase == .admin, pinned: client.phase == .admin ? "" : client.pins.label))
        }
        var poolSnapshots: [PoolSnapshot] = []
        var serverSnapshots: [ServerSnapshot] = []
        for (name, pool) in pools.sorted(by: { $0.key < $1.key }) {
            var byState: [String: Int] = [:]
            for server in pool.allServers {
                byState[server.stateName, default: 0] += 1
                serverSnapshots.append(ServerSnapshot(
                    id: server.id, database: name, user: pool.settings.url.user, state: server.stateName,
                    address: server.upstreamHost.host, port: server.upstreamHost.port,
                    connectedAt: unixTime(server.createdAt), requestAt: unixTime(max(server.idleSince, server.linkedSince)),
                    backendPID: server.backendKey?.processID ?? 0, clientID: server.client?.id,
                    applicationName: server.client?.applicationName ?? "", tls: server.tlsDescription,
                    role: server.isLoggingIn ? "" : server.role.label))
            }
            let counts = poolClients[name] ?? (0, 0, 0, 0, 0)
            poolSnapshots.append(PoolSnapshot(
                database: name, upstreamUser: pool.settings.url.user, upstreamHost: pool.settings.url.host,
                upstreamPort: pool.settings.url.port, upstreamDatabase: pool.settings.url.database, mode: pool.settings.mode,
                poolSize: pool.settings.poolSize, minPoolSize: pool.settings.minPoolSize, paused: pool.paused,
                clientsActive: counts.active, clientsWaiting: counts.waiting, clientsIdle: counts.idle,
                clientsIdleInTransaction: counts.idleInTx, clientsLogin: counts.login,
                serversActive: byState["active", default: 0], serversIdle: byState["idle", default: 0],
                serversUsed: byState["used", default: 0], serversTested: byState["tested", default: 0],
                serversLogin: byState["login", default: 0],
                maxWaitSeconds: pool.oldestWaitStart.map { Double(now &- $0) / 1000 } ?? 0,
                stats: pool.stats, lastConnectError: pool.lastConnectFailure?.description,
                replicaLag: Dictionary(pool.replicaLag.map { ("\($0.key)", $0.value.seconds) }, uniquingKeysWith: { a, _ in a }),
                notifyChannels: pool.notifications?.hub.channelCount ?? 0,
                notifySubscribers: pool.notifications?.hub.subscriberCount ?? 0,
                notifyListeners: pool.listenerServerCount))
        }
        var snapshot = ProxySnapshot(version: sluiceVersion, startedAt: startedAtUnix, takenAt: Date().timeIntervalSince1970,
                                     paused: pools.values.contains { $0.paused }, shuttingDown: shuttingDown, config: config,
                                     pools: poolSnapshots, clients: clientSnapshots, servers: serverSnapshots, totals: stats)
        if worker == 0 { snapshot.applications = applications.read(now: now) }  // one book for every worker
        return snapshot
    }

    /// The snapshot the admin console answers from: this runtime's, or with several workers the
    /// merged one, gathered without blocking this loop. `completion` runs on this loop.
    func withSnapshot(_ completion: @escaping (ProxySnapshot) -> Void) {
        if let group, workerCount > 1 {
            group.gatherSnapshot(on: self, completion)
        } else {
            completion(snapshot())
        }
    }
}
