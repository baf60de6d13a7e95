// Tests for what `workers = N` divides and shares: pool settings per worker, the process-wide
// client limit book, and the merged snapshot the console and /metrics read.
import XCTest
@testable import SluiceCore
import SluiceConfig

final class WorkerSharesTests: XCTestCase {
    private func settings(poolSize: Int, minPoolSize: Int = 0, reserve: Int = 0, maxDB: Int = 0,
                          maxUser: Int = 0, maxQueue: Int = 0) -> PoolSettings {
        var config = SluiceConfig()
        config.defaultPoolSize = poolSize
        config.minPoolSize = minPoolSize
        config.reservePoolSize = reserve
        config.maxDBConnections = maxDB
        config.maxUserConnections = maxUser
        config.maxQueueLength = maxQueue
        let database = DatabaseConfig(name: "app", url: UpstreamURL(host: "127.0.0.1", user: "app", database: "app"))
        return PoolSettings(config: config, database: database)
    }

    func testSharesAddUpToTheConfiguredSizes() {
        let base = settings(poolSize: 20, minPoolSize: 5, reserve: 3, maxDB: 25, maxUser: 7, maxQueue: 100)
        for workers in 1...6 {
            let parts = (0..<workers).map { base.share(worker: $0, of: workers) }
            XCTAssertEqual(parts.map(\.poolSize).reduce(0, +), 20, "workers = \(workers)")
            XCTAssertEqual(parts.map(\.minPoolSize).reduce(0, +), 5)
            XCTAssertEqual(parts.map(\.reservePoolSize).reduce(0, +), 3)
            XCTAssertEqual(parts.map(\.maxDBConnections).reduce(0, +), 25)
            XCTAssertEqual(parts.map(\.maxUserConnections).reduce(0, +), 7)
            XCTAssertEqual(parts.map(\.maxQueueLength).reduce(0, +), 100)
            XCTAssertLessThanOrEqual(parts.map(\.poolSize).max()! - parts.map(\.poolSize).min()!, 1, "even split")
        }
        XCTAssertEqual(base.share(worker: 0, of: 1).poolSize, 20, "one worker keeps everything")
    }

    func testSmallSizesKeepOnePerWorkerAndZeroStaysUnlimited() {
        let base = settings(poolSize: 1, maxDB: 1)
        let second = base.share(worker: 1, of: 2)
        XCTAssertEqual(second.poolSize, 1, "a worker without a server could serve nobody")
        XCTAssertEqual(second.maxDBConnections, 1)
        XCTAssertEqual(settings(poolSize: 4).share(worker: 1, of: 2).maxDBConnections, 0, "0 = no limit, not divided")
        XCTAssertEqual(settings(poolSize: 3, minPoolSize: 3).share(worker: 2, of: 3).minPoolSize, 1)
    }

    func testLimitBookCountsAcrossCallersAndReleases() {
        var config = SluiceConfig()
        config.maxClientConn = 3
        config.maxClientConnPerAddress = 2
        config.maxAuthFailures = 2
        let book = ClientLimitBook()
        XCTAssertNil(book.admitConnection(host: "10.0.0.1", exempt: false, config: config, now: 0))
        XCTAssertNil(book.admitConnection(host: "10.0.0.1", exempt: false, config: config, now: 0))
        XCTAssertEqual(book.admitConnection(host: "10.0.0.1", exempt: false, config: config, now: 0)?.1,
                       "max_client_conn_per_address")
        XCTAssertNil(book.admitConnection(host: "10.0.0.1", exempt: true, config: config, now: 0), "exempt")
        XCTAssertEqual(book.admitConnection(host: "10.0.0.2", exempt: false, config: config, now: 0)?.1, "max_client_conn")
        XCTAssertEqual(book.clientCount, 3)
        book.release(host: "10.0.0.1", database: "", user: "", admitted: false)
        XCTAssertNil(book.admitConnection(host: "10.0.0.2", exempt: false, config: config, now: 0))

        XCTAssertNil(book.admitLogin(database: "app", user: "u", databaseLimit: 1, userLimit: 0))
        XCTAssertEqual(book.admitLogin(database: "app", user: "v", databaseLimit: 1, userLimit: 0)?.1, "max_db_client_connections")
        book.release(host: "10.0.0.2", database: "app", user: "u", admitted: true)
        XCTAssertNil(book.admitLogin(database: "app", user: "v", databaseLimit: 1, userLimit: 0), "released with the client")

        book.recordAuthFailure(host: "10.0.0.9", now: 1_000)
        book.recordAuthFailure(host: "10.0.0.9", now: 2_000)
        book.release(host: "10.0.0.2", database: "app", user: "v", admitted: true)
        XCTAssertEqual(book.admitConnection(host: "10.0.0.9", exempt: false, config: config, now: 3_000)?.1, "max_auth_failures")
        XCTAssertNil(book.admitConnection(host: "10.0.0.9", exempt: false, config: config, now: 62_000), "a new minute")
    }

    func testLimitBookHoldsUnderConcurrentWorkers() {
        var config = SluiceConfig()
        config.maxClientConn = 1_000
        let book = ClientLimitBook()
        let admitted = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        admitted.initialize(repeating: 0, count: 4)
        defer { admitted.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for _ in 0..<500 where book.admitConnection(host: "10.0.0.\(worker)", exempt: false, config: config, now: 0) == nil {
                admitted[worker] += 1
            }
        }
        XCTAssertEqual((0..<4).map { admitted[$0] }.reduce(0, +), 1_000, "exactly max_client_conn admitted")
        XCTAssertEqual(book.clientCount, 1_000)
    }
}
