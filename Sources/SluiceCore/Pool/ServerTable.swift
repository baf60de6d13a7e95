// ServerTable: a pool machine's servers by ServerID, in slots reused after a server is forgotten (no hashing on the checkout path).

extension PoolStateMachine {
    /// The servers of one pool, stored at their `ServerID.slot`. A lookup is an array index and a
    /// comparison of the id found there, so an id whose server was forgotten (and whose slot
    /// another server took) finds nothing. New servers take the most recently freed slot.
    struct ServerTable {
        private var slots: [Server?] = []
        private var free: [Int] = []
        /// Servers in the table.
        private(set) var count = 0

        /// The slot the next server added will take.
        var nextSlot: Int { free.last ?? slots.count }

        subscript(id: ServerID) -> Server? {
            get {
                guard id.slot >= 0, id.slot < slots.count, let server = slots[id.slot], server.id == id else { return nil }
                return server
            }
            set {
                if let newValue {
                    precondition(newValue.id == id, "a server is stored under its own id")
                    if id.slot == slots.count && free.isEmpty {
                        slots.append(newValue)
                        count += 1
                    } else if slots[id.slot]?.id == id {
                        slots[id.slot] = newValue
                    } else {
                        precondition(slots[id.slot] == nil && free.last == id.slot, "a new server takes the next free slot")
                        free.removeLast()
                        slots[id.slot] = newValue
                        count += 1
                    }
                } else if id.slot >= 0, id.slot < slots.count, slots[id.slot]?.id == id {
                    slots[id.slot] = nil
                    free.append(id.slot)
                    count -= 1
                }
            }
        }

        /// Changes a stored server's state in place (`move(_:to:)` has checked that it exists).
        @inline(__always) mutating func setState(_ state: ServerState, of id: ServerID) {
            guard id.slot >= 0, id.slot < slots.count, slots[id.slot]?.id == id else {
                preconditionFailure("invalid state: server \(id) is not in the table")
            }
            slots[id.slot]!.state = state
        }

        /// Marks a stored server as opened cold.
        mutating func markCold(_ id: ServerID) {
            guard id.slot >= 0, id.slot < slots.count, slots[id.slot]?.id == id else { return }
            slots[id.slot]!.cold = true
        }

        /// Every server's id, in opening order.
        var ids: [ServerID] { slots.compactMap { $0?.id }.sorted() }
    }
}
