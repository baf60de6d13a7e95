// Tests for SessionParameters and ServerParameterState: options parsing and the SET/RESET alignment.
import XCTest
@testable import SluiceCore

final class SessionParametersTests: XCTestCase {
    func testOptionsParsing() throws {
        let parsed = try SessionParameters.parseOptions("-c a=1 -cb=2 --c-d=x\\ y")
        XCTAssertEqual(parsed.map { $0.0 }, ["a", "b", "c_d"])
        XCTAssertEqual(parsed.map { $0.1 }, ["1", "2", "x y"])
        XCTAssertThrowsError(try SessionParameters.parseOptions("-c"))
        XCTAssertThrowsError(try SessionParameters.parseOptions("endpoint=ep-1"))
        XCTAssertThrowsError(try SessionParameters.parseOptions("-c bad"))
    }

    func testInvalidNameIsRefused() {
        XCTAssertThrowsError(try SessionParameters.fromStartup([("name; drop", "x")]))
    }

    func testAlignmentSetsWhatDiffersAndResetsWhatAnotherClientSet() {
        var server = ServerParameterState()
        server.reported(name: "application_name", value: "")
        server.reported(name: "DateStyle", value: "ISO, MDY")
        var a = SessionParameters()
        a["application_name"] = "web"
        a["search_path"] = "x"
        let first = server.alignment(to: a)!
        XCTAssertEqual(first.sql, "SET \"application_name\" TO 'web';SET \"search_path\" TO 'x';")
        server.aligned(set: first.set, reset: first.reset)
        XCTAssertNil(server.alignment(to: a), "nothing to do for the same client again")

        let b = SessionParameters()
        let second = server.alignment(to: b)!
        XCTAssertEqual(second.sql, "RESET \"application_name\";RESET \"search_path\";")
        server.aligned(set: second.set, reset: second.reset)
        XCTAssertNil(server.current["search_path"], "a non-reported setting is forgotten after RESET")
        XCTAssertNil(server.alignment(to: b))
    }

    func testCachedAlignmentFollowsChangesOnEitherSide() {
        var server = ServerParameterState()
        server.reported(name: "application_name", value: "")
        var a = SessionParameters()
        a["application_name"] = "web"
        let first = server.alignmentIfNeeded(to: a)!
        server.aligned(set: first.set, reset: first.reset)
        XCTAssertNil(server.alignmentIfNeeded(to: a))
        XCTAssertNil(server.alignmentIfNeeded(to: a), "the remembered answer")
        let copy = a
        XCTAssertNil(server.alignmentIfNeeded(to: copy), "a copy has the same content")
        // The client changes: the cache must not answer for it.
        a.apply(.set(name: "search_path", sql: "SET search_path = x"))
        XCTAssertEqual(server.alignmentIfNeeded(to: a)?.sql, "SET search_path = x;")
        XCTAssertEqual(server.alignmentIfNeeded(to: a)?.sql, "SET search_path = x;", "still needed: nothing applied")
        // The server changes under an unchanged client: the cache must not answer either.
        XCTAssertNil(server.alignmentIfNeeded(to: copy))
        server.reported(name: "application_name", value: "other")
        XCTAssertEqual(server.alignmentIfNeeded(to: copy)?.sql, "SET \"application_name\" TO 'web';")
        // Another client with equal content but its own history is compared, not trusted by stamp.
        var b = SessionParameters()
        b["application_name"] = "web"
        XCTAssertEqual(b, copy)
        XCTAssertNotEqual(b.revision, copy.revision)
    }

    func testServerRemembersSeveralAlignedClientsUntilItChanges() {
        var server = ServerParameterState()
        server.reported(name: "application_name", value: "web")
        // Clients with the same settings but each its own revision, as in transaction mode.
        let clients: [SessionParameters] = (0..<(ServerParameterState.alignedMemory + 8)).map { _ in
            var client = SessionParameters()
            client["application_name"] = "web"
            return client
        }
        for client in clients { XCTAssertNil(server.alignmentIfNeeded(to: client)) }
        XCTAssertEqual(server.alignmentsComputed, clients.count)
        // The most recent `alignedMemory` are answered from memory, the older ones compared again.
        for client in clients.suffix(ServerParameterState.alignedMemory) { XCTAssertNil(server.alignmentIfNeeded(to: client)) }
        XCTAssertEqual(server.alignmentsComputed, clients.count, "remembered clients were compared again")
        XCTAssertNil(server.alignmentIfNeeded(to: clients[0]))
        XCTAssertEqual(server.alignmentsComputed, clients.count + 1, "a forgotten client was trusted")
        // A differing client between them is still answered, and never remembered.
        var other = SessionParameters()
        other["application_name"] = "batch"
        XCTAssertEqual(server.alignmentIfNeeded(to: other)?.sql, "SET \"application_name\" TO 'batch';")
        XCTAssertEqual(server.alignmentIfNeeded(to: other)?.sql, "SET \"application_name\" TO 'batch';")
        for client in clients { XCTAssertNil(server.alignmentIfNeeded(to: client)) }
        // The server changes: every remembered answer is void.
        server.reported(name: "application_name", value: "batch")
        for client in clients.prefix(3) {
            XCTAssertEqual(server.alignmentIfNeeded(to: client)?.sql, "SET \"application_name\" TO 'web';")
        }
        XCTAssertNil(server.alignmentIfNeeded(to: other))
    }

    func testClientSetReportedByServerIsResetForTheNextClient() {
        var server = ServerParameterState()
        server.reported(name: "application_name", value: "")
        // A client ran SET application_name = 'x'; the relay records it as changed from default.
        server.reported(name: "application_name", value: "x")
        server.setBySluice.insert("application_name")
        XCTAssertEqual(server.alignment(to: SessionParameters())?.sql, "RESET \"application_name\";")
    }

    func testQuoting() {
        XCTAssertEqual(quoteLiteral("it's"), "'it''s'")
        XCTAssertEqual(quoteLiteral("a\\b"), "E'a\\\\b'")
        XCTAssertEqual(quoteIdentifier("we\"ird"), "\"we\"\"ird\"")
    }

    func testDiscardForgetsSluiceSettings() {
        var server = ServerParameterState()
        var wanted = SessionParameters()
        wanted["work_mem"] = "64MB"
        let alignment = server.alignment(to: wanted)!
        server.aligned(set: alignment.set, reset: alignment.reset)
        server.discarded()
        XCTAssertNil(server.current["work_mem"])
        XCTAssertTrue(server.setBySluice.isEmpty)
    }

    func testTheServersSpellingIsKeptAndTheClientsIsNotSetAgain() throws {
        var server = ServerParameterState()
        server.reported(name: "client_encoding", value: "UTF8")
        server.reported(name: "TimeZone", value: "GMT")
        let client = try SessionParameters.fromStartup([(name: "client_encoding", value: "utf8"), (name: "TimeZone", value: "utc")])
        let first = server.alignment(to: client)!
        XCTAssertEqual(first.sql, "SET \"client_encoding\" TO 'utf8';SET \"timezone\" TO 'utc';")
        // PostgreSQL reports a changed value only: TimeZone now UTC; client_encoding stayed UTF8.
        server.reported(name: "TimeZone", value: "UTC")
        server.aligned(set: first.set, reset: first.reset)
        XCTAssertEqual(server.current["timezone"], "UTC", "current keeps what the server reports")
        XCTAssertEqual(server.current["client_encoding"], "UTF8")
        XCTAssertNil(server.alignment(to: client), "the client's spelling is not SET on every checkout")
        // A client told the canonical spelling needs nothing either.
        var canonical = client
        canonical.adoptCanonical(["client_encoding": "UTF8", "timezone": "UTC"])
        XCTAssertEqual(canonical["client_encoding"], "UTF8")
        XCTAssertEqual(canonical.startup["timezone"], "UTC", "RESET returns to the canonical startup value")
        XCTAssertNil(server.alignment(to: canonical))
    }

    func testASpellingIsForgottenWhenTheServerChanges() {
        var server = ServerParameterState()
        server.reported(name: "TimeZone", value: "GMT")
        var client = SessionParameters()
        client["TimeZone"] = "utc"
        let first = server.alignment(to: client)!
        server.reported(name: "TimeZone", value: "UTC")
        server.aligned(set: first.set, reset: first.reset)
        XCTAssertNil(server.alignment(to: client))
        // Another client's untracked SET moves the server: "utc" must not be skipped now.
        server.reported(name: "TimeZone", value: "Europe/Berlin")
        XCTAssertEqual(server.alignment(to: client)?.sql, "SET \"timezone\" TO 'utc';")
        // DISCARD ALL forgets the spellings too.
        server.reported(name: "TimeZone", value: "UTC")
        server.aligned(set: ["timezone": "utc"], reset: [])
        XCTAssertEqual(server.spelled["timezone"], "utc")
        server.discarded()
        XCTAssertTrue(server.spelled.isEmpty)
    }
}
