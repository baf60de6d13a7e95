// Tests for FIFOQueue: order, removal from the middle, draining.
import XCTest
@testable import SluiceCore

final class FIFOQueueTests: XCTestCase {
    final class Item { let n: Int; init(_ n: Int) { self.n = n } }

    func testFirstInFirstOutWithRemoval() {
        var queue = FIFOQueue<Item>()
        let items = (0..<200).map(Item.init)
        for item in items { queue.append(item) }
        queue.remove { $0.n == 1 }
        XCTAssertEqual(queue.count, 199)
        XCTAssertEqual(queue.removeFirst()?.n, 0)
        XCTAssertEqual(queue.first?.n, 2)
        var seen: [Int] = []
        while let item = queue.removeFirst() { seen.append(item.n) }
        XCTAssertEqual(seen, Array(2..<200))
        XCTAssertTrue(queue.isEmpty)
    }

    func testDrain() {
        var queue = FIFOQueue<Item>()
        for n in 0..<5 { queue.append(Item(n)) }
        _ = queue.removeFirst()
        XCTAssertEqual(queue.drain().map(\.n), [1, 2, 3, 4])
        XCTAssertTrue(queue.isEmpty)
    }
}
