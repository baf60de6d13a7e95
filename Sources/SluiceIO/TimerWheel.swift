// TimerWheel: a hashed timing wheel ticked by the loop's one DispatchSourceTimer.

/// A scheduled callback; `cancel()` makes it a no-op (removal is lazy).
public final class Timer {
    fileprivate let deadline: UInt64
    fileprivate var action: (() -> Void)?
    init(deadline: UInt64, action: @escaping () -> Void) {
        self.deadline = deadline
        self.action = action
    }
    /// Stops the timer from firing.
    public func cancel() { action = nil }
    public var isActive: Bool { action != nil }
}

/// Hashed wheel of `slotCount` slots, `tickMilliseconds` wide. Loop-confined.
public final class TimerWheel {
    private let tick: UInt64
    private var slots: [[Timer]]
    private var currentTick: UInt64
    public private(set) var scheduledCount = 0

    public init(tickMilliseconds: UInt64, now: UInt64, slotCount: Int = 1024) {
        self.tick = max(tickMilliseconds, 1)
        self.slots = Array(repeating: [], count: slotCount)
        self.currentTick = now / self.tick
    }

    /// Schedules `action` to run once, `afterMilliseconds` from `now` (rounded up to a tick).
    @discardableResult
    public func schedule(now: UInt64, afterMilliseconds delay: UInt64, _ action: @escaping () -> Void) -> Timer {
        let deadline = now + delay
        let timer = Timer(deadline: deadline, action: action)
        var slotTick = (deadline + tick - 1) / tick
        if slotTick <= currentTick { slotTick = currentTick + 1 }
        slots[Int(slotTick % UInt64(slots.count))].append(timer)
        scheduledCount += 1
        return timer
    }

    /// Fires every timer whose deadline has passed.
    public func advance(to now: UInt64) {
        let target = now / tick
        while currentTick < target {
            currentTick += 1
            let index = Int(currentTick % UInt64(slots.count))
            if slots[index].isEmpty { continue }
            let due = slots[index]
            slots[index].removeAll(keepingCapacity: true)
            for timer in due {
                if timer.deadline > now && timer.isActive {
                    slots[index].append(timer)  // a later round of the wheel
                    continue
                }
                scheduledCount -= 1
                if let action = timer.action {
                    timer.action = nil
                    action()
                }
            }
        }
    }
}
