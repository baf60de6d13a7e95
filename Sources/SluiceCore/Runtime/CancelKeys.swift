// CancelKeys: the BackendKeyData Sluice handed out, looked up by process id and secret (constant time).
import PostgresWire

/// Every cancel key of one worker's clients. A process id may name several clients: in session
/// mode a client is given its server's real backend pid, so pids of different upstreams can be
/// equal, and a transaction-mode client's random pid can equal a real one. A CancelRequest is
/// therefore matched on the pid and then on the secret, which Sluice always makes itself (never
/// the server's), compared in constant time with every candidate. A value: `ProxyRuntime` owns one.
///
/// With `workers > 1` a CancelRequest lands on any worker; the secret names its owner
/// (`secret % workers == worker`), since a real pid cannot carry the worker's number.
struct CancelKeys {
    struct Entry: Equatable {
        let secret: UInt32
        let client: UInt64
    }

    private(set) var byProcessID: [Int32: [Entry]] = [:]

    /// Keys registered.
    var count: Int { byProcessID.values.reduce(0) { $0 + $1.count } }

    /// A secret drawn from `random` whose remainder by `workers` is `worker`: the random part
    /// keeps all but log2(workers) of its 32 bits.
    static func secret(random: UInt32, worker: Int, workers: Int) -> UInt32 {
        let count = UInt64(max(workers, 1))
        var value = UInt64(random) - UInt64(random) % count + UInt64(worker)
        if value > UInt64(UInt32.max) { value -= count }
        return UInt32(value)
    }

    /// The worker that owns the key with this secret.
    static func worker(of secret: UInt32, workers: Int) -> Int {
        Int(secret % UInt32(max(workers, 1)))
    }

    /// Registers `client`'s key; false (nothing changed) when the same pid and secret are taken.
    mutating func register(processID: Int32, secret: UInt32, client: UInt64) -> Bool {
        var entries = byProcessID[processID] ?? []
        guard !entries.contains(where: { $0.secret == secret }) else { return false }
        entries.append(Entry(secret: secret, client: client))
        byProcessID[processID] = entries
        return true
    }

    /// Forgets `client`'s key under `processID`.
    mutating func remove(processID: Int32, client: UInt64) {
        guard var entries = byProcessID[processID] else { return }
        entries.removeAll { $0.client == client }
        byProcessID[processID] = entries.isEmpty ? nil : entries
    }

    /// The client whose key is `processID` and `secret`, or nil. Every candidate's secret is
    /// compared in constant time, so the time taken says nothing about the secrets.
    func client(processID: Int32, secret: UInt32) -> UInt64? {
        guard let entries = byProcessID[processID] else { return nil }
        let offered = withUnsafeBytes(of: secret) { Array($0) }
        var found: UInt64?
        for entry in entries where constantTimeEquals(withUnsafeBytes(of: entry.secret) { Array($0) }, offered) {
            found = entry.client
        }
        return found
    }
}
