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
/// harvests ready sockets with zero-timeout waits in batches (see DESIGN.md, "Event loop").
public final class EventLoop: @unchecked Sendable {
    public let queue: DispatchQueue
    public let index: Int
    private let pollDescriptor: Int32
    private var readSource: DispatchSourceRead?
    private var tickSource: DispatchSourceTimer?
    private var handlers: [IOHandler?] = []
    private var events = [sluice_event](repeating: sluice_event(), count: 256)
    public let timers: TimerWheel
    /// Milliseconds on the monotonic clock, refreshed once per wake-up.
    public private(set) var now: UInt64

    public init(index: Int, tickMilliseconds: Int = 100) throws {
        self.index = index
        self.queue = DispatchQueue(label: "sluice.loop.\(index)", qos: .userInitiated)
        let descriptor = sluice_poll_create()
        guard descriptor >= 0 else { throw IOError.system("readiness set", errno) }
        self.pollDescriptor = descriptor
        self.now = MonotonicClock.milliseconds()
        self.timers = TimerWheel(tickMilliseconds: UInt64(tickMilliseconds), now: now)
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

    /// Runs `body` on the loop.
    public func execute(_ body: @escaping @Sendable () -> Void) { queue.async(execute: body) }

    /// True when called from the loop's queue.
    public func assertInLoop() { dispatchPrecondition(condition: .onQueue(queue)) }

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

    private func harvest() {
        now = MonotonicClock.milliseconds()
        var rounds = 0
        while rounds < 8 {
            rounds += 1
            let count = events.withUnsafeMutableBufferPointer {
                sluice_poll_wait(pollDescriptor, $0.baseAddress, Int32($0.count), 0)
            }
            if count <= 0 { break }
            for i in 0..<Int(count) {
                let event = events[i]
                let fd = Int(event.token)
                guard fd < handlers.count, let handler = handlers[fd] else { continue }
                handler.ioReady(readable: event.readable != 0 || event.hangup != 0 || event.error != 0,
                                writable: event.writable != 0,
                                hangup: event.error != 0)
            }
            if count < Int32(events.count) { break }
        }
    }
}

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
