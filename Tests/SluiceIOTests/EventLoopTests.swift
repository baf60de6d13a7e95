// Tests for EventLoop: events are delivered, and a loop lingering for more events (a long
// linger window here, so that a missing wake-up would show as a 30 s stall) still runs
// submitted work and timers promptly.
import Dispatch
import XCTest
@testable import SluiceIO
#if canImport(Glibc)
import Glibc
#endif

final class EventLoopTests: XCTestCase {
    /// Loops live as long as the process, as in Sluice: their dispatch sources hold unowned
    /// references, so a loop freed at the end of a test could be called by its tick afterwards.
    nonisolated(unsafe) private static var keptLoops: [EventLoop] = []

    private func makeLoop(index: Int, tickMilliseconds: Int = 100, lingerMilliseconds: Int = 0,
                          budgetMilliseconds: Int = 20) throws -> EventLoop {
        let loop = try EventLoop(index: index, tickMilliseconds: tickMilliseconds, lingerMilliseconds: lingerMilliseconds,
                                 budgetMilliseconds: budgetMilliseconds)
        Self.keptLoops.append(loop)
        return loop
    }

    /// Writes a byte to `peer` and waits (up to 5 s) until the loop has read it.
    private func pokeAndAwait(_ peer: Int32, _ counter: ByteCounter, file: StaticString = #filePath, line: UInt = #line) {
        poke(peer)
        XCTAssertEqual(counter.seen.wait(timeout: .now() + 5), .success, file: file, line: line)
    }

    func testLingeringLoopDeliversLaterEventsAndRunsSubmittedWorkAtOnce() throws {
        let loop = try makeLoop(index: 90, lingerMilliseconds: 30_000, budgetMilliseconds: 60_000)
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
        let loop = try makeLoop(index: 91, tickMilliseconds: 10, lingerMilliseconds: 30_000, budgetMilliseconds: 60_000)
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
        let loop = try makeLoop(index: 92)
        XCTAssertEqual(loop.sync { 6 * 7 }, 42)
        XCTAssertEqual(loop.sync { loop.index }, 92)
    }
}
