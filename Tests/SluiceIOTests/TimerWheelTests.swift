// Tests for TimerWheel: firing order, cancellation, long delays across wheel rounds.
import XCTest
@testable import SluiceIO

final class TimerWheelTests: XCTestCase {
    func testFiresAfterDeadlineNotBefore() {
        let wheel = TimerWheel(tickMilliseconds: 100, now: 0)
        var fired: [String] = []
        wheel.schedule(now: 0, afterMilliseconds: 250) { fired.append("a") }
        wheel.schedule(now: 0, afterMilliseconds: 100) { fired.append("b") }
        wheel.advance(to: 99)
        XCTAssertEqual(fired, [])
        wheel.advance(to: 200)
        XCTAssertEqual(fired, ["b"])
        wheel.advance(to: 300)
        XCTAssertEqual(fired, ["b", "a"])
        XCTAssertEqual(wheel.scheduledCount, 0)
    }

    func testCancelledTimerDoesNotFire() {
        let wheel = TimerWheel(tickMilliseconds: 10, now: 0)
        var fired = false
        let timer = wheel.schedule(now: 0, afterMilliseconds: 50) { fired = true }
        timer.cancel()
        XCTAssertFalse(timer.isActive)
        wheel.advance(to: 1000)
        XCTAssertFalse(fired)
    }

    func testDelayLongerThanOneRevolution() {
        let wheel = TimerWheel(tickMilliseconds: 10, now: 0, slotCount: 8)  // one revolution = 80 ms
        var firedAt: UInt64?
        var now: UInt64 = 0
        wheel.schedule(now: 0, afterMilliseconds: 250) { firedAt = now }
        while now < 400 {
            now += 10
            wheel.advance(to: now)
        }
        XCTAssertEqual(firedAt, 250)
    }

    func testTimerScheduledFromCallbackFiresLater() {
        let wheel = TimerWheel(tickMilliseconds: 10, now: 0)
        var count = 0
        wheel.schedule(now: 0, afterMilliseconds: 10) {
            count += 1
            wheel.schedule(now: 10, afterMilliseconds: 10) { count += 10 }
        }
        wheel.advance(to: 10)
        XCTAssertEqual(count, 1)
        wheel.advance(to: 20)
        XCTAssertEqual(count, 11)
    }

    func testRepeatingTimerFiresEveryPeriodUntilCancelled() {
        let wheel = TimerWheel(tickMilliseconds: 100, now: 0, slotCount: 8)
        var firedAt: [UInt64] = []
        var now: UInt64 = 0
        var timer: SluiceIO.Timer?
        timer = wheel.scheduleRepeating(now: 0, everyMilliseconds: 1000) {
            firedAt.append(now)
            if firedAt.count == 3 { timer?.cancel() }
        }
        while now < 6000 {
            now += 100
            wheel.advance(to: now)
        }
        XCTAssertEqual(firedAt, [1000, 2000, 3000], "every period across wheel rounds, then cancelled")
        XCTAssertEqual(wheel.scheduledCount, 0)
    }

    func testRepeatingTimerAfterALongStallFiresOnceThenKeepsItsPeriod() {
        let wheel = TimerWheel(tickMilliseconds: 100, now: 0)
        var firedAt: [UInt64] = []
        var now: UInt64 = 0
        wheel.scheduleRepeating(now: 0, everyMilliseconds: 500) { firedAt.append(now) }
        now = 2050  // the loop was busy: one catch-up firing, not four
        wheel.advance(to: now)
        XCTAssertEqual(firedAt, [2050])
        while now < 3000 { now += 100; wheel.advance(to: now) }
        XCTAssertEqual(firedAt.count, 3, "\(firedAt)")
        XCTAssertEqual(wheel.scheduledCount, 1)
    }
}
