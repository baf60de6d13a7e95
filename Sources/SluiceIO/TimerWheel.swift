// TimerWheel: a hashed timing wheel ticked by the loop's one DispatchSourceTimer.

/// A scheduled callback; `cancel()` makes it a no-op (removal is lazy).
public final class Timer {
    fileprivate var deadline: UInt64
    fileprivate var action: (() -> Void)?
    /// Milliseconds between firings of a repeating timer; 0 for a one-shot one.
    fileprivate let period: UInt64
    init(deadline: UInt64, period: UInt64 = 0, action: @escaping () -> Void) {
        self.deadline = deadline
        self.period = period
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
    /// The slot being fired is swapped in here, so neither array loses its capacity.
    private var firing: [Timer] = []
    private var currentTick: UInt64
    public private(set) var scheduledCount = 0

    public init(tickMilliseconds: UInt64, now: UInt64, slotCount: Int = 1024) {
        self.tick = max(tickMilliseconds, 1)
        // Every slot starts with room for a few timers (64 KiB in all): buffers then only rotate
        // between the slots and `firing`, so housekeeping timers allocate nothing after start.
        self.slots = (0..<max(slotCount, 1)).map { _ in
            var slot: [Timer] = []
            slot.reserveCapacity(4)
            return slot
        }
        firing.reserveCapacity(4)
        self.currentTick = now / self.tick
    }

    /// Schedules `action` to run once, `afterMilliseconds` from `now` (rounded up to a tick).
    @discardableResult
    public func schedule(now: UInt64, afterMilliseconds delay: UInt64, _ action: @escaping () -> Void) -> Timer {
        let timer = Timer(deadline: now + delay, action: action)
        insert(timer)
        scheduledCount += 1
        return timer
    }

    /// Schedules `action` every `everyMilliseconds` from `now` until cancelled. One timer object
    /// serves every firing (periodic housekeeping allocates nothing once scheduled).
    @discardableResult
    public func scheduleRepeating(now: UInt64, everyMilliseconds period: UInt64, _ action: @escaping () -> Void) -> Timer {
        let timer = Timer(deadline: now + max(period, 1), period: max(period, 1), action: action)
        insert(timer)
        scheduledCount += 1
        return timer
    }

    private func insert(_ timer: Timer) {
        var slotTick = (timer.deadline + tick - 1) / tick
        if slotTick <= currentTick { slotTick = currentTick + 1 }
        slots[Int(slotTick % UInt64(slots.count))].append(timer)
    }

    /// Fires every timer whose deadline has passed.
    public func advance(to now: UInt64) {
        let target = now / tick
        while currentTick < target {
            currentTick += 1
            let index = Int(currentTick % UInt64(slots.count))
            if slots[index].isEmpty { continue }
            swap(&firing, &slots[index])
            for timer in firing {
                if timer.deadline > now && timer.isActive {
                    slots[index].append(timer)  // a later round of the wheel
                    continue
                }
                guard let action = timer.action else { scheduledCount -= 1; continue }
                if timer.period > 0 {
                    timer.deadline = max(timer.deadline + timer.period, now + 1)
                    insert(timer)  // a later slot: never the one being fired
                } else {
                    scheduledCount -= 1
                    timer.action = nil
                }
                action()
            }
            firing.removeAll(keepingCapacity: true)
        }
    }
}
