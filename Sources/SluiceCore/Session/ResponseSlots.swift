// ResponseSlots: what each message sent to a server will answer, so Sluice can hide, add and reorder nothing else.

/// One request in flight on a server, in send order. The server answers requests in order; a
/// slot is popped when its final reply passes (or when an error makes the server skip it).
enum ResponseSlot: Equatable {
    /// The client's Parse (its ParseComplete goes to the client). `serverName`/`clientName` are set
    /// for named statements so a failure can undo the bookkeeping.
    case parse(serverName: String?, clientName: String?)
    case bind
    case describeStatement
    case describePortal
    case execute
    case close
    case sync
    /// A simple Query or FunctionCall: everything up to ReadyForQuery.
    case query
    /// A Parse Sluice added before a Bind/Describe: its ParseComplete is swallowed.
    case hiddenParse(serverName: String)
    /// A Close Sluice added to evict a statement: its CloseComplete is swallowed.
    case hiddenClose
    /// The statement was already prepared on this server: answer ParseComplete without asking it.
    case syntheticParseComplete
    /// The client closed a statement Sluice keeps for sharing: answer CloseComplete without asking.
    case syntheticCloseComplete
    /// `DEALLOCATE` of a statement Sluice keeps: answer CommandComplete and ReadyForQuery.
    case syntheticDeallocate
    /// A LISTEN/UNLISTEN query the notification relay takes: the client answers it (its
    /// `ClientNotifications.queuedAnswers`) with the transaction status of the moment.
    case syntheticListen

    var isSynthetic: Bool {
        switch self {
        case .syntheticParseComplete, .syntheticCloseComplete, .syntheticDeallocate, .syntheticListen: return true
        default: return false
        }
    }

    /// The reply type that completes this slot (nil: completed some other way).
    func isFinished(by type: UInt8) -> Bool {
        switch self {
        case .parse, .hiddenParse: return type == UInt8(ascii: "1")
        case .bind: return type == UInt8(ascii: "2")
        case .close, .hiddenClose: return type == UInt8(ascii: "3")
        case .describeStatement, .describePortal: return type == UInt8(ascii: "T") || type == UInt8(ascii: "n")
        case .execute: return type == UInt8(ascii: "C") || type == UInt8(ascii: "I") || type == UInt8(ascii: "s")
        case .sync, .query: return type == UInt8(ascii: "Z")
        case .syntheticParseComplete, .syntheticCloseComplete, .syntheticDeallocate, .syntheticListen: return false
        }
    }
}

/// A FIFO of slots that reuses its storage (no allocation per message in steady state).
struct SlotQueue {
    private var items: [ResponseSlot] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }
    var first: ResponseSlot? { isEmpty ? nil : items[head] }
    /// The head is an answer Sluice gives itself (read in place: no copy of the slot).
    var headIsSynthetic: Bool { !isEmpty && items[head].isSynthetic }
    /// A reply of `type` completes the head request.
    func headIsFinished(by type: UInt8) -> Bool { !isEmpty && items[head].isFinished(by: type) }

    mutating func append(_ slot: ResponseSlot) { items.append(slot) }

    @discardableResult
    mutating func removeFirst() -> ResponseSlot? {
        guard !isEmpty else { return nil }
        let slot = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        return slot
    }

    mutating func removeAll() {
        guard !items.isEmpty else { return }  // the usual case at checkout: nothing to destroy
        items.removeAll(keepingCapacity: true)
        head = 0
    }
}
