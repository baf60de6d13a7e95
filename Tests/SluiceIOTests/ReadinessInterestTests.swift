// ReadinessInterestTests: interest changes reach the readiness set only when they differ, and
// turning reading off really stops events.
import Dispatch
import XCTest
@testable import SluiceIO
#if canImport(Glibc)
import Glibc
#endif

private final class ReadCounter: IOHandler, @unchecked Sendable {
    let fd: Int32
    let seen = DispatchSemaphore(value: 0)
    init(fd: Int32) { self.fd = fd }
    func ioReady(readable: Bool, writable: Bool, hangup: Bool) {
        var buffer = [UInt8](repeating: 0, count: 64)
        if read(fd, &buffer, buffer.count) > 0 { seen.signal() }
    }
}

final class ReadinessInterestTests: XCTestCase {
    /// Loops live as long as the process, as in Sluice (their sources hold unowned references).
    nonisolated(unsafe) static var loop: EventLoop?

    func testUpdateReportsResumedReadingOnlyOnAChange() throws {
        if Self.loop == nil { Self.loop = try EventLoop(index: 91) }
        let loop = Self.loop!
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        XCTAssertEqual(fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK), 0)
        defer { close(fds[0]); close(fds[1]) }
        let counter = ReadCounter(fd: fds[0])
        loop.sync { try! loop.register(fds[0], handler: counter, read: true, write: false) }

        var interest = ReadinessInterest()
        XCTAssertTrue(interest.read)
        XCTAssertFalse(interest.write)
        XCTAssertFalse(loop.sync { interest.update(read: true, write: false, fd: fds[0], loop: loop) }, "no change")
        XCTAssertFalse(loop.sync { interest.update(read: false, write: false, fd: fds[0], loop: loop) }, "reading stops")
        XCTAssertFalse(interest.read)

        // With reading off, a byte from the peer is not delivered.
        var byte: UInt8 = 1
        XCTAssertEqual(write(fds[1], &byte, 1), 1)
        XCTAssertEqual(counter.seen.wait(timeout: .now() + 0.3), .timedOut, "reading was off")

        XCTAssertTrue(loop.sync { interest.update(read: true, write: false, fd: fds[0], loop: loop) }, "reading resumes")
        XCTAssertEqual(counter.seen.wait(timeout: .now() + 5), .success, "the waiting byte is delivered")
        XCTAssertFalse(loop.sync { interest.update(read: true, write: true, fd: fds[0], loop: loop) },
                       "asking for writability too is a change, but not a resumption")
        XCTAssertTrue(interest.write)
        loop.sync { loop.deregister(fds[0]) }
    }
}
