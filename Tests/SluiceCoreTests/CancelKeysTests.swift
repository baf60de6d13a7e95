// Tests for CancelKeys: lookups by pid and secret with colliding pids, wrong secrets, and the worker a secret names.
import XCTest
@testable import SluiceCore

final class CancelKeysTests: XCTestCase {
    func testCollidingPidsAreTellApartBySecret() {
        var keys = CancelKeys()
        // Two session-mode clients of different upstreams whose backends have the same pid, and a
        // transaction-mode client whose random pid happens to be that pid too.
        XCTAssertTrue(keys.register(processID: 4242, secret: 0x1111_1111, client: 1))
        XCTAssertTrue(keys.register(processID: 4242, secret: 0x2222_2222, client: 2))
        XCTAssertTrue(keys.register(processID: 4242, secret: 0x3333_3333, client: 3))
        XCTAssertTrue(keys.register(processID: 77, secret: 0x1111_1111, client: 4))
        XCTAssertEqual(keys.client(processID: 4242, secret: 0x1111_1111), 1)
        XCTAssertEqual(keys.client(processID: 4242, secret: 0x2222_2222), 2)
        XCTAssertEqual(keys.client(processID: 4242, secret: 0x3333_3333), 3)
        XCTAssertEqual(keys.client(processID: 77, secret: 0x1111_1111), 4)
        XCTAssertEqual(keys.count, 4)
    }

    func testWrongSecretOrPidFindsNobody() {
        var keys = CancelKeys()
        XCTAssertTrue(keys.register(processID: 4242, secret: 0xdead_beef, client: 1))
        XCTAssertNil(keys.client(processID: 4242, secret: 0xdead_beee), "a wrong secret cancels nothing")
        XCTAssertNil(keys.client(processID: 4242, secret: 0), "a wrong secret cancels nothing")
        XCTAssertNil(keys.client(processID: 4243, secret: 0xdead_beef), "the right secret with another pid cancels nothing")
    }

    func testTheSamePidAndSecretAreRefusedAndRemovalForgetsOnlyThatClient() {
        var keys = CancelKeys()
        XCTAssertTrue(keys.register(processID: 10, secret: 5, client: 1))
        XCTAssertFalse(keys.register(processID: 10, secret: 5, client: 2), "the same key twice would be ambiguous")
        XCTAssertTrue(keys.register(processID: 10, secret: 6, client: 2))
        keys.remove(processID: 10, client: 1)
        XCTAssertNil(keys.client(processID: 10, secret: 5))
        XCTAssertEqual(keys.client(processID: 10, secret: 6), 2)
        keys.remove(processID: 10, client: 2)
        XCTAssertEqual(keys.count, 0)
        XCTAssertTrue(keys.byProcessID.isEmpty)
    }

    func testTheSecretNamesItsWorkerAndKeepsItsRandomBits() {
        for workers in 1...5 {
            for worker in 0..<workers {
                for random: UInt32 in [0, 1, 12345, 0x7fff_ffff, UInt32.max - 1, UInt32.max] {
                    let secret = CancelKeys.secret(random: random, worker: worker, workers: workers)
                    XCTAssertEqual(CancelKeys.worker(of: secret, workers: workers), worker, "\(random) \(worker)/\(workers)")
                    // Only the low remainder changes: the rest of the random value is kept.
                    XCTAssertLessThan(abs(Int64(secret) - Int64(random)), Int64(2 * workers))
                }
            }
        }
        XCTAssertEqual(CancelKeys.secret(random: 0xabcd_1234, worker: 0, workers: 1), 0xabcd_1234)
    }
}
