// FIFOQueue: an array-backed first-in first-out queue with amortised O(1) removeFirst.

/// First come, first served.
struct FIFOQueue<Element> {
    private var items: [Element?] = []
    private var head = 0

    var count: Int { items.count - head - holes }
    private var holes = 0
    var isEmpty: Bool { count == 0 }

    var first: Element? {
        var i = head
        while i < items.count { if let e = items[i] { return e }; i += 1 }
        return nil
    }

    mutating func append(_ element: Element) { items.append(element) }

    mutating func removeFirst() -> Element? {
        while head < items.count {
            let e = items[head]
            items[head] = nil
            head += 1
            if let e { compactIfNeeded(); return e }
            holes -= 1
        }
        return nil
    }

    /// Removes the first element matching `predicate` (leaves a hole; O(n)); false if none matched.
    @discardableResult
    mutating func remove(where predicate: (Element) -> Bool) -> Bool {
        var i = head
        while i < items.count {
            if let e = items[i], predicate(e) { items[i] = nil; holes += 1; return true }
            i += 1
        }
        return false
    }

    /// Lets `body` change each element in place, first to last.
    mutating func updateEach(_ body: (inout Element) -> Void) {
        for i in head..<items.count where items[i] != nil { body(&items[i]!) }
    }

    mutating func drain() -> [Element] {
        let all = items[head...].compactMap { $0 }
        items.removeAll()
        head = 0
        holes = 0
        return all
    }

    private mutating func compactIfNeeded() {
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        if head == items.count { items.removeAll(keepingCapacity: true); head = 0; holes = 0 }
    }
}
