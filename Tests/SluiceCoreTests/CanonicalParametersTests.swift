// Tests for CanonicalParameters (the server's spelling of settings, learnt and bounded) and LoginPlan.
import XCTest
import SluiceConfig
@testable import SluiceCore

final class CanonicalParametersTests: XCTestCase {
    let reported: Set<String> = ["client_encoding", "datestyle", "timezone", "application_name", "intervalstyle"]

    func testLearntSpellingsAnswerLaterLoginsAndUnknownOnesDoNot() {
        var cache = CanonicalParameters()
        let wanted = ["client_encoding": "utf8", "datestyle": "iso, dmy", "search_path": "app"]
        XCTAssertNil(cache.canonical(of: wanted, reported: reported), "nothing learnt yet")
        // A server aligned to the client reports its own spelling; search_path is not reported here.
        let server = ["client_encoding": "UTF8", "datestyle": "ISO, DMY", "timezone": "UTC", "search_path": "app"]
        let learnt = cache.learn(wanted: wanted, serverValues: server, reported: reported)
        XCTAssertEqual(learnt, ["client_encoding": "UTF8", "datestyle": "ISO, DMY"])
        XCTAssertEqual(cache.canonical(of: wanted, reported: reported), ["client_encoding": "UTF8", "datestyle": "ISO, DMY"])
        XCTAssertEqual(cache.canonical(name: "client_encoding", written: "utf8"), "UTF8")
        // Another spelling of a known setting is not known.
        XCTAssertNil(cache.canonical(of: ["client_encoding": "UTF-8"], reported: reported))
        XCTAssertNil(cache.canonical(of: ["client_encoding": "utf8", "timezone": "europe/berlin"], reported: reported))
        // Settings the server does not report need no spelling.
        XCTAssertEqual(cache.canonical(of: ["search_path": "x", "work_mem": "64MB"], reported: reported), [:])
    }

    func testTheCacheIsBoundedAndForgetsTheOldestFirst() {
        var cache = CanonicalParameters(capacity: 3)
        for zone in ["a", "b", "c", "d"] {
            _ = cache.learn(wanted: ["timezone": zone], serverValues: ["timezone": zone.uppercased()], reported: reported)
        }
        XCTAssertEqual(cache.count, 3)
        XCTAssertNil(cache.canonical(name: "timezone", written: "a"), "the oldest was evicted")
        XCTAssertEqual(cache.canonical(name: "timezone", written: "d"), "D")
        // Relearning a known spelling takes no new room.
        _ = cache.learn(wanted: ["timezone": "d"], serverValues: ["timezone": "D"], reported: reported)
        XCTAssertEqual(cache.count, 3)
        XCTAssertEqual(cache.canonical(name: "timezone", written: "b"), "B")
        XCTAssertEqual(CanonicalParameters().capacity, 256)
    }

    func testLoginPlan() {
        var cache = CanonicalParameters()
        let wanted = ["client_encoding": "utf8"]
        XCTAssertEqual(LoginPlan.decide(mode: .session, wanted: [:], reportedNames: reported, known: cache), .takeServer,
                       "session mode always logs in with its server")
        XCTAssertEqual(LoginPlan.decide(mode: .transaction, wanted: wanted, reportedNames: reported, known: cache), .takeServer,
                       "an unknown spelling is learnt on a server")
        XCTAssertEqual(LoginPlan.decide(mode: .transaction, wanted: wanted, reportedNames: nil, known: cache), .takeServer,
                       "a pool that has seen no server does not know what is reported")
        XCTAssertEqual(LoginPlan.decide(mode: .transaction, wanted: [:], reportedNames: nil, known: cache),
                       .answerFromPool(canonical: [:]))
        _ = cache.learn(wanted: wanted, serverValues: ["client_encoding": "UTF8"], reported: reported)
        XCTAssertEqual(LoginPlan.decide(mode: .transaction, wanted: wanted, reportedNames: reported, known: cache),
                       .answerFromPool(canonical: ["client_encoding": "UTF8"]))
        XCTAssertEqual(LoginPlan.decide(mode: .session, wanted: wanted, reportedNames: reported, known: cache), .takeServer)
        // A busy or paused pool does not hold a transaction-mode login up to learn a spelling:
        // it is answered with what is known; session mode still takes its server.
        let mixed = ["client_encoding": "utf8", "timezone": "europe/berlin"]
        XCTAssertEqual(LoginPlan.decide(mode: .transaction, wanted: mixed, reportedNames: reported, known: cache,
                                        serverFreeNow: false), .answerFromPool(canonical: ["client_encoding": "UTF8"]))
        XCTAssertEqual(LoginPlan.decide(mode: .transaction, wanted: mixed, reportedNames: reported, known: cache,
                                        serverFreeNow: true), .takeServer)
        XCTAssertEqual(LoginPlan.decide(mode: .session, wanted: mixed, reportedNames: reported, known: cache,
                                        serverFreeNow: false), .takeServer)
    }
}
