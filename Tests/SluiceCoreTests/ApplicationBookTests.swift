// ApplicationBookTests: names to bounded entries, the space-saving replacement, stale slots, counters by worker.
@testable import SluiceCore
import XCTest

final class ApplicationBookTests: XCTestCase {
    typealias Layout = ApplicationBook.Layout

    func counts(_ reading: ApplicationReading, _ name: String) -> [UInt64]? {
        reading.entries.first { $0.name == name }?.counts
    }

    func testLabelsAreSanitizedAndBounded() {
        XCTAssertEqual(ApplicationName.label(""), "none")
        XCTAssertEqual(ApplicationName.label("web-1.api:v2/x@y_z"), "web-1.api:v2/x@y_z")
        XCTAssertEqual(ApplicationName.label("we\"b\\ \n名"), "we_b____")
        XCTAssertEqual(ApplicationName.label(String(repeating: "a", count: 10_000)), String(repeating: "a", count: 63))
    }

    func testSameNameSameSlotAndRecordsGoToIt() {
        let book = ApplicationBook(limit: 2, workers: 2)
        XCTAssertEqual(book.capacity, 8)
        let web = book.resolve("web", now: 0, worker: 0)
        XCTAssertEqual(book.resolve("web", now: 0, worker: 1), web)
        XCTAssertEqual(book.resolve("", now: 0, worker: 0), book.resolve("none", now: 0, worker: 0))
        XCTAssertEqual(book.resolve("other", now: 0, worker: 0), book.overflowSlot, "a client calling itself other is other")
        book.record(.transaction, nanoseconds: 3_000_000, slot: web, worker: 0)  // 3 ms: the 5 ms bucket
        book.record(.transaction, nanoseconds: 70_000_000_000, slot: web, worker: 1)  // +Inf
        book.record(.poolWait, nanoseconds: 0, slot: web, worker: 1)
        book.countLeakSuspect(slot: web, worker: 0)
        book.countRefusal(.maxQueueLength, slot: web, worker: 1)
        let reading = book.read(now: 0)
        let c = counts(reading, "web")!
        let transaction = Layout.histogram(.transaction)
        XCTAssertEqual(c[transaction + 5], 1)
        XCTAssertEqual(c[transaction + ApplicationBook.boundsNanoseconds.count], 1)
        XCTAssertEqual(c[transaction + ApplicationBook.boundsNanoseconds.count + 1], 70_003_000_000)
        XCTAssertEqual(c[Layout.histogram(.poolWait)], 1)
        XCTAssertEqual(c[Layout.leakSuspects], 1)
        XCTAssertEqual(c[Layout.refusal(.maxQueueLength)], 1)
        XCTAssertEqual(c[Layout.activity], 2 + 2 + 1, "two logins, two transactions, one refusal")
    }

    func testTenThousandNamesNeverGrowTheTable() {
        let book = ApplicationBook(limit: 3, workers: 1)
        let busy = book.resolve("busy", now: 0, worker: 0)
        for _ in 0..<1_000 { book.record(.transaction, nanoseconds: 1_000, slot: busy, worker: 0) }
        for i in 0..<10_000 {
            let slot = book.resolve("client-\(i)", now: UInt64(i), worker: 0)
            XCTAssertLessThan(Int(slot.entry), book.capacity + 1)
            book.record(.transaction, nanoseconds: 1_000, slot: slot, worker: 0)
        }
        let reading = book.read(now: 10_000)
        XCTAssertLessThanOrEqual(reading.entries.count, book.capacity)
        XCTAssertEqual(reading.entries.count, 12)
        XCTAssertNotNil(counts(reading, "busy"), "the busy name is never the one replaced")
        let total = reading.entries.reduce(UInt64(0)) { $0 + $1.counts[Layout.histogram(.transaction)] }
            + reading.overflow[Layout.histogram(.transaction)]
        XCTAssertEqual(total, 11_000, "every record is somewhere (entries keep counting across names)")
    }

    func testAReplacedEntryMakesOldSlotsRecordAsOther() {
        let book = ApplicationBook(limit: 1, workers: 1)  // 4 entries
        let quiet = book.resolve("quiet", now: 0, worker: 0)
        var others: [ApplicationSlot] = []
        for name in ["a", "b", "c"] {
            let slot = book.resolve(name, now: 0, worker: 0)
            for _ in 0..<10 { book.record(.transaction, nanoseconds: 1, slot: slot, worker: 0) }
            others.append(slot)
        }
        XCTAssertTrue(book.isCurrent(quiet))
        let newcomer = book.resolve("newcomer", now: 1, worker: 0)
        XCTAssertEqual(newcomer.entry, quiet.entry, "the least busy entry is replaced")
        XCTAssertFalse(book.isCurrent(quiet))
        XCTAssertTrue(others.allSatisfy(book.isCurrent))
        book.record(.serverHold, nanoseconds: 1, slot: quiet, worker: 0)
        let reading = book.read(now: 1)
        XCTAssertEqual(reading.overflow[Layout.histogram(.serverHold)], 1, "a stale slot records as other")
        let entry = reading.entries.first { $0.name == "newcomer" }!
        XCTAssertEqual(entry.generation, 1)
        XCTAssertEqual(entry.base?[Layout.activity], 1, "the old name's login, where the new name began")
        XCTAssertNil(reading.entries.first { $0.name == "quiet" })
        let again = book.resolve("quiet", now: 2, worker: 0)
        XCTAssertTrue(book.isCurrent(again), "coming back gives the name a current slot")
        XCTAssertEqual(again.entry, newcomer.entry, "replacing the least busy entry again: the newcomer's")
        XCTAssertEqual(again.generation, 2)
    }

    func testScoresDecay() {
        let book = ApplicationBook(limit: 1, workers: 1)
        let old = book.resolve("old", now: 0, worker: 0)
        for _ in 0..<100 { book.record(.transaction, nanoseconds: 1, slot: old, worker: 0) }
        XCTAssertEqual(book.read(now: 0).entries.first?.score, 101)
        let later = UInt64(ApplicationBook.halfLifeMilliseconds * 10)
        let fresh = book.resolve("fresh", now: later, worker: 0)
        for _ in 0..<10 { book.record(.transaction, nanoseconds: 1, slot: fresh, worker: 0) }
        let reading = book.read(now: later)
        let score = { (name: String) in reading.entries.first { $0.name == name }!.score }
        XCTAssertLessThan(score("old"), score("fresh"), "101 events ten half-lives ago weigh less than 11 now")
    }

    func testAClockALittleBehindDoesNotWipeTheScores() {
        let book = ApplicationBook(limit: 1, workers: 2)  // 4 entries
        let busy = book.resolve("busy", now: 1_000, worker: 0)
        for _ in 0..<50 { book.record(.transaction, nanoseconds: 1, slot: busy, worker: 0) }
        _ = book.read(now: 1_000)
        // Another worker's loop read its clock a millisecond earlier.
        for i in 0..<20 { _ = book.resolve("one-off-\(i)", now: 999, worker: 1) }
        let reading = book.read(now: 999)
        XCTAssertEqual(reading.entries.first { $0.name == "busy" }?.score, 51, "busy keeps its score and its entry")
    }

    func testRefusalsBeforeLoginNeverAddNames() {
        let book = ApplicationBook(limit: 2, workers: 1)
        _ = book.resolve("web", now: 0, worker: 0)
        book.countRefusal(.maxDBClientConnections, rawName: "web", worker: 0)
        book.countRefusal(.maxUserClientConnections, rawName: "stranger", worker: 0)
        let reading = book.read(now: 0)
        XCTAssertEqual(reading.entries.map(\.name), ["web"])
        XCTAssertEqual(counts(reading, "web")![Layout.refusal(.maxDBClientConnections)], 1)
        XCTAssertEqual(reading.overflow[Layout.refusal(.maxUserClientConnections)], 1)
    }

    func testLimitZeroCountsEverythingAsOther() {
        let book = ApplicationBook(limit: 0, workers: 1)
        let slot = book.resolve("web", now: 0, worker: 0)
        XCTAssertEqual(slot, book.overflowSlot)
        book.record(.poolWait, nanoseconds: 1, slot: slot, worker: 0)
        XCTAssertEqual(book.read(now: 0).overflow[Layout.histogram(.poolWait)], 1)
    }

    func testRefusalReasons() {
        XCTAssertEqual(ApplicationBook.Refusal(reason: "max_queue_length"), .maxQueueLength)
        XCTAssertEqual(ApplicationBook.Refusal(reason: "max_db_client_connections"), .maxDBClientConnections)
        XCTAssertNil(ApplicationBook.Refusal(reason: "max_client_conn"))
        XCTAssertNil(ApplicationBook.Refusal(reason: "client_close"))
    }
}
