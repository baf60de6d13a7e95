// ClientJanitorTests: which timeout or leak report the janitor decides on, from views of clients.

import XCTest
@testable import SluiceCore

final class ClientJanitorTests: XCTestCase {
    private let janitor = ClientJanitor(clientIdleTimeout: 10, idleTransactionTimeout: 5, queryTimeout: 2,
                                        leakDetectionThreshold: 30)

    private func linked(inTransaction: Bool = false, pending: Int = 0, queryStartedAt: UInt64 = 0,
                        fired: Bool = false, lastReadAt: UInt64 = 0, held: Double? = nil,
                        reported: Bool = false) -> ClientJanitor.ClientView {
        ClientJanitor.ClientView(
            state: .linked(server: .init(inTransaction: inTransaction, pendingReadyForQuery: pending,
                                         queryStartedAt: queryStartedAt, queryTimeoutFired: fired)),
            lastReadAt: lastReadAt, heldSeconds: held, leakReported: reported)
    }

    func testIdleClientClosedOnlyAfterClientIdleTimeout() {
        let client = ClientJanitor.ClientView(state: .idle, lastReadAt: 1_000, heldSeconds: nil, leakReported: false)
        XCTAssertNil(janitor.timeoutAction(for: client, now: 10_999))
        XCTAssertEqual(janitor.timeoutAction(for: client, now: 11_000), .closeIdleClient)
    }

    func testIdleInTransactionNeedsAnOpenTransactionAndNoRunningRequest() {
        XCTAssertEqual(janitor.timeoutAction(for: linked(inTransaction: true, lastReadAt: 0), now: 5_000),
                       .closeIdleInTransaction)
        XCTAssertNil(janitor.timeoutAction(for: linked(inTransaction: true, lastReadAt: 0), now: 4_999))
        XCTAssertNil(janitor.timeoutAction(for: linked(inTransaction: false, lastReadAt: 0), now: 60_000),
                     "a linked client outside a transaction is not idle in one")
        XCTAssertNotEqual(janitor.timeoutAction(for: linked(inTransaction: true, pending: 1, queryStartedAt: 59_000),
                                                now: 60_000), .closeIdleInTransaction,
                          "a running request is not idleness")
    }

    func testQueryTimeoutCancelsOnce() {
        let running = linked(pending: 1, queryStartedAt: 1_000, lastReadAt: 1_000)
        XCTAssertNil(janitor.timeoutAction(for: running, now: 2_999))
        XCTAssertEqual(janitor.timeoutAction(for: running, now: 3_000), .cancelQuery)
        XCTAssertNil(janitor.timeoutAction(for: linked(pending: 1, queryStartedAt: 1_000, fired: true), now: 9_000),
                     "already cancelled")
        XCTAssertNil(janitor.timeoutAction(for: linked(pending: 0, queryStartedAt: 0), now: 9_000), "nothing running")
    }

    func testClientsLoggingInOrWaitingAreLeftAlone() {
        let other = ClientJanitor.ClientView(state: .other, lastReadAt: 0, heldSeconds: nil, leakReported: false)
        XCTAssertNil(janitor.timeoutAction(for: other, now: 1_000_000))
    }

    func testTimeoutsOffMeansNoAction() {
        let off = ClientJanitor(clientIdleTimeout: 0, idleTransactionTimeout: 0, queryTimeout: 0, leakDetectionThreshold: 0)
        XCTAssertFalse(off.checksTimeouts)
        XCTAssertNil(off.timeoutAction(for: linked(inTransaction: true, pending: 1, queryStartedAt: 1), now: 1_000_000))
        XCTAssertNil(off.timeoutAction(for: .init(state: .idle, lastReadAt: 0, heldSeconds: nil, leakReported: false),
                                       now: 1_000_000))
        XCTAssertFalse(off.isNewLeakSuspect(linked(held: 1_000)))
    }

    func testLeakSuspectReportedOncePerHold() {
        XCTAssertFalse(janitor.isNewLeakSuspect(linked(held: 29.9)))
        XCTAssertTrue(janitor.isNewLeakSuspect(linked(held: 30)))
        XCTAssertFalse(janitor.isNewLeakSuspect(linked(held: 300, reported: true)))
        XCTAssertFalse(janitor.isNewLeakSuspect(linked(held: nil)), "not holding a server")
    }

    func testSecondsBecomeMilliseconds() {
        let fractional = ClientJanitor(clientIdleTimeout: 0.5, idleTransactionTimeout: -1, queryTimeout: 1.25,
                                       leakDetectionThreshold: 0)
        XCTAssertEqual(fractional.clientIdleTimeout, 500)
        XCTAssertEqual(fractional.idleTransactionTimeout, 0)
        XCTAssertEqual(fractional.queryTimeout, 1_250)
    }
}
