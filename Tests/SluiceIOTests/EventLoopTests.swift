// Tests for EventLoop: events are delivered, and a loop lingering for more events (a long
// linger window here, so that a missing wake-up would show as a 30 s stall) still runs
// submitted work and timers promptly.
import Dispatch
import XCTest
@testable import SluiceIO
#if canImport(Glibc)
import Glibc
#endif

private final class ByteCounter: IOHandler, @unchecked Sendable {
    let fd: Int32
    let seen = DispatchSemaphore(value: 0)
    var bytes = 0
    init(fd: Int32) { self.fd = fd }
    func ioReady(readable: Bool, writable: Bool, hangup: Bool) {
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buffer, buffer.count)
        if n > 0 {
            bytes += n
            for _ in 0..<n { seen.signal() }
        }
    }
}

final class EventLoopTests: XCTestCase {
    private func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        XCTAssertEqual(fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK), 0)
        return (fds[0], fds[1])
    }

    private func poke(_ fd: Int32) {
        var byte: UInt8 = 1
        XCTAssertEqual(write(fd, &byte, 1), 1)
    }

    /// A socket pair whose first end is registered on `loop`, counting the bytes that arrive.
    private func watchedPair(on loop: EventLoop) -> (ours: Int32, peer: Int32, counter: ByteCounter) {
        let (ours, peer) = socketPair()
        let counter = ByteCounter(fd: ours)
        loop.sync { try! loop.register(ours, handler: counter, read: true, write: false) }
        return (ours, peer, counter)
    }

    /// Writes a byte to `peer` and waits (up to 5 s) until the loop has read it.
    private func pokeAndAwait(_ peer: Int32, _ counter: ByteCounter, file: StaticString = #filePath, line: UInt = #line) {
        poke(peer)
        XCTAssertEqual(counter.seen.wait(timeout: .now() + 5), .success, file: file, line: line)
    }

    func testLingeringLoopDeliversLaterEventsAndRunsSubmittedWorkAtOnce() throws {
        let loop = try EventLoop(index: 90, lingerMilliseconds: 30_000, budgetMilliseconds: 60_000)
        let (ours, peer, counter) = watchedPair(on: loop)
        defer { close(ours); close(peer) }

        pokeAndAwait(peer, counter)
        // The handler now waits in the readiness set for up to 30 s: a second event is
        // delivered from inside that wait.
        pokeAndAwait(peer, counter)

        // Work submitted from another thread rings the doorbell and does not wait out the linger.
        let ran = DispatchSemaphore(value: 0)
        loop.execute { ran.signal() }
        XCTAssertEqual(ran.wait(timeout: .now() + 5), .success, "execute waited for the linger window")
        XCTAssertEqual(loop.sync { counter.bytes }, 2)

        // And after that block, traffic still wakes the loop through its dispatch source.
        pokeAndAwait(peer, counter)
        XCTAssertEqual(loop.sync { counter.bytes }, 3)
        loop.sync { loop.deregister(ours) }
    }

    func testTimersFireWhileTheLoopLingers() throws {
        let loop = try EventLoop(index: 91, tickMilliseconds: 10, lingerMilliseconds: 30_000, budgetMilliseconds: 60_000)
        let (ours, peer, counter) = watchedPair(on: loop)
        defer { close(ours); close(peer) }
        pokeAndAwait(peer, counter)
        // The loop is inside its long wait; keep it busy with events every 20 ms so the wait
        // returns, and check that a timer scheduled on the loop fires in the meantime.
        let fired = DispatchSemaphore(value: 0)
        loop.execute { _ = loop.timers.schedule(now: loop.now, afterMilliseconds: 50) { fired.signal() } }
        var result = DispatchTimeoutResult.timedOut
        for _ in 0..<100 where result == .timedOut {
            poke(peer)
            result = fired.wait(timeout: .now() + .milliseconds(20))
        }
        XCTAssertEqual(result, .success)
        loop.sync { loop.deregister(ours) }
    }

    func testSyncReturnsTheBlocksValue() throws {
        let loop = try EventLoop(index: 92)
        XCTAssertEqual(loop.sync { 6 * 7 }, 42)
        XCTAssertEqual(loop.sync { loop.index }, 92)
    }
}
