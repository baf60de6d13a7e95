// StatementMapperTests: client statement names to shared server names, message by message.

import XCTest
import PostgresWire
@testable import SluiceCore

final class StatementMapperTests: XCTestCase {
    /// The pool's naming: one name per distinct statement, as `Pool.serverStatementName` does.
    private final class Names {
        var byKey: [StatementKey: String] = [:]
        func name(_ key: StatementKey) -> String {
            if let name = byKey[key] { return name }
            let name = "sluice_\(byKey.count + 1)"
            byKey[key] = name
            return name
        }
    }

    private func body<M: FrontendMessage>(_ message: M) -> ArraySlice<UInt8> {
        var bytes: [UInt8] = []
        message.encode(into: &bytes)
        return bytes[5...]
    }

    private func bytes<M: FrontendMessage>(_ message: M) -> [UInt8] {
        var bytes: [UInt8] = []
        message.encode(into: &bytes)
        return bytes
    }

    func testParseThenBindDescribeCloseUseTheSharedName() {
        let names = Names()
        var mapper = StatementMapper()
        let parse = Parse(statementName: "stmt1", query: "select $1::int", parameterTypeOIDs: [23])
        let key = StatementKey(query: "select $1::int", parameterTypes: [23])
        XCTAssertEqual(mapper.statementMessageReceived(type: Parse.typeCode, body: body(parse), serverName: names.name),
                       .prepare(serverName: "sluice_1", key: key, clientName: "stmt1"))
        let statement = ClientStatement(key: key, serverName: "sluice_1")

        var bind = Bind(portalName: "", statementName: "stmt1", parameterFormats: [], parameters: [[0x31]], resultFormats: [])
        let expectedBind = { () -> [UInt8] in bind.statementName = "sluice_1"; return self.bytes(bind) }()
        bind.statementName = "stmt1"
        XCTAssertEqual(mapper.statementMessageReceived(type: Bind.typeCode, body: body(bind), serverName: names.name),
                       .forward(bytes: expectedBind, slot: .bind, ensurePrepared: statement))

        XCTAssertEqual(mapper.statementMessageReceived(type: Describe.typeCode, body: body(Describe(kind: .statement, name: "stmt1")),
                                                       serverName: names.name),
                       .forward(bytes: bytes(Describe(kind: .statement, name: "sluice_1")), slot: .describeStatement,
                                ensurePrepared: statement))

        XCTAssertEqual(mapper.statementMessageReceived(type: Close.typeCode, body: body(Close(kind: .statement, name: "stmt1")),
                                                       serverName: names.name), .answerCloseComplete,
                       "the shared statement stays on the server; only the client's name goes")
        XCTAssertFalse(mapper.knows("stmt1"))
    }

    func testAStatementThatMakesSessionStateCarriesItsEffectToEveryBind() {
        let names = Names()
        var mapper = StatementMapper()
        let parse = Parse(statementName: "lock", query: "select pg_advisory_lock($1)", parameterTypeOIDs: [20])
        _ = mapper.statementMessageReceived(type: Parse.typeCode, body: body(parse), serverName: names.name)
        let bind = Bind(portalName: "", statementName: "lock", parameterFormats: [], parameters: [[0x31]], resultFormats: [])
        guard case .forward(_, _, let statement?) = mapper.statementMessageReceived(type: Bind.typeCode, body: body(bind),
                                                                                   serverName: names.name) else {
            return XCTFail("a Bind of a known statement is forwarded with it")
        }
        XCTAssertEqual(statement.sessionEffect?.pins, .advisoryLock)
        let plain = Parse(statementName: "plain", query: "select $1::int", parameterTypeOIDs: [23])
        _ = mapper.statementMessageReceived(type: Parse.typeCode, body: body(plain), serverName: names.name)
        let local = mapper.parsedLocally(Parse(statementName: "local", query: "create temp table t (v int)", parameterTypeOIDs: []),
                                         serverName: names.name)
        XCTAssertEqual(local?.sessionEffect?.pins, .tempTable, "a Parse answered by Sluice is read too")
        let bindPlain = Bind(portalName: "", statementName: "plain", parameterFormats: [], parameters: [[0x31]], resultFormats: [])
        guard case .forward(_, _, let plainStatement?) = mapper.statementMessageReceived(type: Bind.typeCode, body: body(bindPlain),
                                                                                        serverName: names.name) else {
            return XCTFail("forwarded")
        }
        XCTAssertNil(plainStatement.sessionEffect)
    }

    func testTwoClientsShareOneServerStatement() {
        let names = Names()
        var first = StatementMapper(), second = StatementMapper()
        let a = Parse(statementName: "a", query: "select 1", parameterTypeOIDs: [])
        let b = Parse(statementName: "b", query: "select 1", parameterTypeOIDs: [])
        guard case .prepare(let nameA, _, _) = first.statementMessageReceived(type: Parse.typeCode, body: body(a), serverName: names.name),
              case .prepare(let nameB, _, _) = second.statementMessageReceived(type: Parse.typeCode, body: body(b), serverName: names.name) else {
            return XCTFail("both prepare")
        }
        XCTAssertEqual(nameA, nameB)
    }

    func testUnknownNamesPassThroughUnchanged() {
        var mapper = StatementMapper()
        let bind = Bind(portalName: "", statementName: "never_parsed", parameterFormats: [], parameters: [], resultFormats: [])
        XCTAssertEqual(mapper.statementMessageReceived(type: Bind.typeCode, body: body(bind), serverName: { _ in "x" }),
                       .forward(bytes: bytes(bind), slot: .bind, ensurePrepared: nil),
                       "the server reports 26000 for it, as PostgreSQL would")
        let close = Close(kind: .statement, name: "never_parsed")
        XCTAssertEqual(mapper.statementMessageReceived(type: Close.typeCode, body: body(close), serverName: { _ in "x" }),
                       .forward(bytes: bytes(close), slot: .close, ensurePrepared: nil))
    }

    func testTooManyStatementsClosesTheClient() {
        var mapper = StatementMapper()
        for index in 0..<StatementMapper.maxStatementsPerClient {
            let parse = Parse(statementName: "s\(index)", query: "select \(index)", parameterTypeOIDs: [])
            XCTAssertNotNil(mapper.parsedLocally(parse, serverName: { _ in "n" }))
        }
        let again = Parse(statementName: "s0", query: "select 0", parameterTypeOIDs: [])
        XCTAssertNotNil(mapper.parsedLocally(again, serverName: { _ in "n" }), "redefining a name adds nothing")
        let more = Parse(statementName: "one_more", query: "select -1", parameterTypeOIDs: [])
        XCTAssertNil(mapper.parsedLocally(more, serverName: { _ in "n" }))
        guard case .closeClient(let error, let reason) =
                mapper.statementMessageReceived(type: Parse.typeCode, body: body(more), serverName: { _ in "n" }) else {
            return XCTFail("the client is closed")
        }
        XCTAssertEqual(error.code, SQLState.tooManyConnections)
        XCTAssertEqual(reason, "too_many_statements")
    }

    func testAMessageThatDoesNotDecodeIsAProtocolViolation() {
        var mapper = StatementMapper()
        guard case .closeClient(let error, let reason) =
                mapper.statementMessageReceived(type: Parse.typeCode, body: [0x61][...], serverName: { _ in "n" }) else {
            return XCTFail("closed")
        }
        XCTAssertEqual(error.code, SQLState.protocolViolation)
        XCTAssertEqual(reason, "protocol_violation")
    }

    func testForgetAndForgetAll() {
        var mapper = StatementMapper()
        _ = mapper.parsedLocally(Parse(statementName: "a", query: "select 1", parameterTypeOIDs: []), serverName: { _ in "n" })
        _ = mapper.parsedLocally(Parse(statementName: "b", query: "select 2", parameterTypeOIDs: []), serverName: { _ in "m" })
        mapper.forget("a")
        XCTAssertFalse(mapper.knows("a"))
        XCTAssertTrue(mapper.knows("b"))
        mapper.forgetAll()
        XCTAssertTrue(mapper.statements.isEmpty)
    }

    func testWhichMessagesNameAStatement() {
        func named(_ type: UInt8, _ message: [UInt8], available: Int? = nil) -> Bool? {
            message.withUnsafeBytes {
                StatementMapper.refersToNamedStatement(type: type, base: $0.baseAddress!, body: 5, available: available ?? $0.count)
            }
        }
        XCTAssertEqual(named(Parse.typeCode, bytes(Parse(statementName: "s", query: "q", parameterTypeOIDs: []))), true)
        XCTAssertEqual(named(Parse.typeCode, bytes(Parse(statementName: "", query: "q", parameterTypeOIDs: []))), false)
        XCTAssertNil(named(Parse.typeCode, bytes(Parse(statementName: "s", query: "q", parameterTypeOIDs: [])), available: 5))
        let bind = bytes(Bind(portalName: "p", statementName: "s", parameterFormats: [], parameters: [], resultFormats: []))
        XCTAssertEqual(named(Bind.typeCode, bind), true)
        XCTAssertNil(named(Bind.typeCode, bind, available: 7), "the statement name has not arrived")
        XCTAssertEqual(named(Bind.typeCode, bytes(Bind(portalName: "p", statementName: "", parameterFormats: [], parameters: [],
                                                       resultFormats: []))), false)
        XCTAssertEqual(named(Describe.typeCode, bytes(Describe(kind: .portal, name: "p"))), false, "a portal")
        XCTAssertEqual(named(Close.typeCode, bytes(Close(kind: .statement, name: "s"))), true)
        XCTAssertEqual(named(Execute.typeCode, bytes(Execute(portalName: "", maxRows: 0))), false)
    }
}
