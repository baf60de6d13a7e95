// EventLoop: one serial DispatchQueue woken by one DispatchSourceRead on an epoll/kqueue set.
import CSluiceShim
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An object that owns a file descriptor registered with an `EventLoop`.
/// Called on the loop's queue only.
public protocol IOHandler: AnyObject {
    /// The descriptor is readable, writable and/or hung up (level-triggered).
    func ioReady(readable: Bool, writable: Bool, hangup: Bool)
}

/// A serial event loop. Every object registered with it is touched only on `queue`.
///
/// The loop keeps all of its sockets in one readiness set (epoll on Linux, kqueue on macOS)
/// and is woken by a single `DispatchSourceRead` on that set's descriptor; the handler
/// harvests ready sockets in batches (see docs/architecture.md, "Event loop").
///
/// While traffic keeps coming, the handler does not give the queue back after each batch: it
/// waits on the readiness set itself, for at most `lingerMilliseconds` at a time and
/// `budgetMilliseconds` in all, so a busy loop is woken by the kernel directly instead of by
/// libdispatch's manager thread, a source re-arm (`epoll_ctl`) and a worker hand-off (`futex`)
/// per wake-up (measured in Benchmarks/RESULTS.md). Work submitted with `execute` or `sync`
/// rings a doorbell in the set, which ends the wait at once so that work runs in order.
public final class EventLoop: @unchecked Sendable {
    public let queue: DispatchQueue
    public let index: Int
    private let pollDescriptor: Int32
    private let doorbellRead: Int32
    private let doorbellWrite: Int32
    private var doorbellRang = false
    private var readSource: DispatchSourceRead?
    private var tickSource: DispatchSourceTimer?
    private var handlers: [IOHandler?] = []
    private var events = [sluice_event](repeating: sluice_event(), count: 256)
    public let timers: TimerWheel
    /// Longest single wait for more events inside one wake-up (0 turns lingering off).
    public let lingerMilliseconds: Int32
    /// The proxy's default `lingerMilliseconds`.
    public static let defaultLingerMilliseconds = 5
    /// Longest time one wake-up keeps the queue before giving it back to other blocks.
    public let budgetMilliseconds: UInt64
    /// Milliseconds on the monotonic clock, refreshed once per batch.
    public private(set) var now: UInt64

    public init(index: Int, tickMilliseconds: Int = 100, lingerMilliseconds: Int = 0,
                budgetMilliseconds: Int = 20) throws {
        self.index = index
        self.queue = DispatchQueue(label: "sluice.loop.\(index)", qos: .default)
        queue.setSpecific(key: queueKey, value: index)
        let descriptor = sluice_poll_create()
        guard descriptor >= 0 else { throw IOError.system("readiness set", errno) }
        self.pollDescriptor = descriptor
        var bell: [Int32] = [-1, -1]
        guard sluice_doorbell_create(&bell) == 0 else {
            let code = errno
            close(descriptor)
            throw IOError.system("loop doorbell", code)
        }
        self.doorbellRead = bell[0]
        self.doorbellWrite = bell[1]
        self.lingerMilliseconds = Int32(max(0, lingerMilliseconds))
        self.budgetMilliseconds = UInt64(max(0, budgetMilliseconds))
        self.now = MonotonicClock.milliseconds()
        self.timers = TimerWheel(tickMilliseconds: UInt64(tickMilliseconds), now: now)
        // The doorbell's token is its descriptor, like every socket's; it has no handler.
        guard sluice_poll_add(descriptor, doorbellRead, UInt64(doorbellRead), 1, 0) == 0 else {
            throw IOError.system("loop doorbell", errno)
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
        source.setEventHandler { [unowned self] in self.harvest() }
        self.readSource = source
        let tick = DispatchSource.makeTimerSource(queue: queue)
        tick.schedule(deadline: .now() + .milliseconds(tickMilliseconds),
                      repeating: .milliseconds(tickMilliseconds), leeway: .milliseconds(10))
        tick.setEventHandler { [unowned self] in
            self.now = MonotonicClock.milliseconds()
            self.timers.advance(to: self.now)
        }
        self.tickSource = tick
        source.resume()
        tick.resume()
    }

    /// Runs `body` on the loop, after what is already queued; wakes a lingering loop.
    public func execute(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
        sluice_doorbell_ring(doorbellWrite)
    }

    /// Runs `body` on the loop and waits for its result (never call it from the loop).
    public func sync<T>(_ body: @escaping () -> T) -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        queue.async {
            box.value = body()
            done.signal()
        }
        sluice_doorbell_ring(doorbellWrite)
        done.wait()
        return box.value!
    }

    /// True when called from the loop's queue.
    public func assertInLoop() { dispatchPrecondition(condition: .onQueue(queue)) }

    private let queueKey = DispatchSpecificKey<Int>()
    /// Whether the caller runs on this loop's queue.
    public var inLoop: Bool { DispatchQueue.getSpecific(key: queueKey) != nil }

    /// Adds `fd` to the readiness set with the given interest.
    public func register(_ fd: Int32, handler: IOHandler, read: Bool, write: Bool) throws {
        if Int(fd) >= handlers.count {
            handlers.append(contentsOf: repeatElement(nil, count: max(Int(fd) + 1 - handlers.count, handlers.count)))
        }
        handlers[Int(fd)] = handler
        if sluice_poll_add(pollDescriptor, fd, UInt64(fd), read ? 1 : 0, write ? 1 : 0) != 0 {
            handlers[Int(fd)] = nil
            throw IOError.system("register", errno)
        }
    }

    /// Changes the interest of a registered descriptor.
    public func setInterest(_ fd: Int32, read: Bool, write: Bool) {
        _ = sluice_poll_modify(pollDescriptor, fd, UInt64(fd), read ? 1 : 0, write ? 1 : 0)
    }

    /// Removes `fd` from the set (before closing it).
    public func deregister(_ fd: Int32) {
        _ = sluice_poll_remove(pollDescriptor, fd)
        if Int(fd) < handlers.count { handlers[Int(fd)] = nil }
    }

    /// The source's handler: one batch without waiting, then more batches while they come
    /// within `lingerMilliseconds` of each other, until the budget is spent or the doorbell rings.
    private func harvest() {
        now = MonotonicClock.milliseconds()
        let deadline = now &+ budgetMilliseconds
        var timeout: Int32 = 0
        while true {
            let count = events.withUnsafeMutableBufferPointer {
                sluice_poll_wait(pollDescriptor, $0.baseAddress, Int32($0.count), timeout)
            }
            if count <= 0 { break }
            now = MonotonicClock.milliseconds()
            dispatchEvents(Int(count))
            if doorbellRang {
                doorbellRang = false
                break  // queued blocks run now; the source fires again for what is left
            }
            // The tick source cannot run while the handler lingers; otherwise it does this itself.
            if lingerMilliseconds > 0 { timers.advance(to: now) }
            if now >= deadline { break }
            timeout = count == Int32(events.count) ? 0 : lingerMilliseconds
        }
    }

    private func dispatchEvents(_ count: Int) {
        for i in 0..<count {
            let event = events[i]
            let fd = Int(event.token)
            if fd == Int(doorbellRead) {
                // Work submitted before these events became ready runs first: stop here (the
                // rest of the batch is level-triggered and comes back with the next wait).
                sluice_doorbell_drain(doorbellRead)
                doorbellRang = true
                return
            }
            guard fd < handlers.count, let handler = handlers[fd] else { continue }
            handler.ioReady(readable: event.readable != 0 || event.hangup != 0 || event.error != 0,
                            writable: event.writable != 0,
                            hangup: event.error != 0)
        }
    }
}

/// Carries `sync`'s result from the loop to the waiting thread (the semaphore orders the accesses).
private final class ResultBox<T>: @unchecked Sendable { var value: T? }

/// Errors from system calls, with errno.
public enum IOError: Error, CustomStringConvertible, Sendable {
    case system(String, Int32)
    case resolve(String)
    public var description: String {
        switch self {
        case .system(let what, let code): return "\(what): \(String(cString: strerror(code)))"
        case .resolve(let reason): return reason
        }
    }
}

/// Monotonic milliseconds.
public enum MonotonicClock {
    public static func milliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
    public static func microseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}
