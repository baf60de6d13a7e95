// ReadinessInterestTests: interest changes reach the readiness set only when they differ, and
// turning reading off really stops events.
import Dispatch
import XCTest
@testable import SluiceIO
#if canImport(Glibc)
import Glibc
#endif

final class ReadinessInterestTests: XCTestCase {
    /// Loops live as long as the process, as in Sluice (their sources hold unowned references).
    nonisolated(unsafe) static var loop: EventLoop?

    func testUpdateReportsResumedReadingOnlyOnAChange() throws {
        if Self.loop == nil { Self.loop = try EventLoop(index: 91) }
        let loop = Self.loop!
        let (ours, peer, counter) = watchedPair(on: loop)
        let socket = TCPSocket(fd: ours)
        defer { socket.close(); close(peer) }

        var interest = ReadinessInterest()
        XCTAssertTrue(interest.read)
        XCTAssertFalse(interest.write)
        XCTAssertFalse(loop.sync { interest.update(read: true, write: false, socket: socket, loop: loop) }, "no change")
        XCTAssertFalse(loop.sync { interest.update(read: false, write: false, socket: socket, loop: loop) }, "reading stops")
        XCTAssertFalse(interest.read)

        // With reading off, a byte from the peer is not delivered.
        poke(peer)
        XCTAssertEqual(counter.seen.wait(timeout: .now() + 0.3), .timedOut, "reading was off")

        XCTAssertFalse(loop.sync { interest.update(read: true, write: false, socket: socket, loop: loop) },
                       "reading resumes; a plaintext socket holds no decrypted bytes to read by hand")
        XCTAssertTrue(interest.read)
        XCTAssertEqual(counter.seen.wait(timeout: .now() + 5), .success, "the waiting byte is delivered")
        XCTAssertFalse(loop.sync { interest.update(read: true, write: true, socket: socket, loop: loop) })
        XCTAssertTrue(interest.write)
        loop.sync { loop.deregister(ours) }
    }
}
