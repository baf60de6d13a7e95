// BackendMessageTests: round trips and hand-written vectors for the server → client messages.

import XCTest
@testable import PostgresWire

final class BackendMessageTests: XCTestCase {
    func testReadyForQuery() throws {
        XCTAssertEqual(try ReadyForQuery.decode(body: [0x49][...]), ReadyForQuery(status: .idle))
        XCTAssertEqual(try ReadyForQuery.decode(body: [0x54][...]), ReadyForQuery(status: .inTransaction))
        XCTAssertEqual(try ReadyForQuery.decode(body: [0x45][...]), ReadyForQuery(status: .failed))
        XCTAssertEqual(ReadyForQuery(status: .failed).encoded, [0x5A, 0, 0, 0, 5, 0x45])
        XCTAssertTrue(isMalformed(wireError { try ReadyForQuery.decode(body: [0x58][...]) }))
        XCTAssertTrue(isMalformed(wireError { try ReadyForQuery.decode(body: [][...]) }))
        XCTAssertTrue(isMalformed(wireError { try ReadyForQuery.decode(body: [0x49, 0x49][...]) }))
        assertRoundTrip(ReadyForQuery(status: .inTransaction))
    }

    func testParameterStatusAndBackendKeyData() throws {
        assertRoundTrip(ParameterStatus(name: "server_version", value: "17.2"))
        XCTAssertEqual(try ParameterStatus.decode(body: (cString("TimeZone") + cString("UTC"))[...]),
                       ParameterStatus(name: "TimeZone", value: "UTC"))
        assertRoundTrip(BackendKeyData(processID: 4242, secretKey: 0xFFFF_FFFF))
        XCTAssertTrue(isMalformed(wireError { try BackendKeyData.decode(body: [0, 0, 0, 1, 0, 0, 0][...]) }))
    }

    func testCommandCompleteAndEmptyBodies() {
        assertRoundTrip(CommandComplete(tag: "INSERT 0 5"))
        assertRoundTrip(EmptyQueryResponse())
        assertRoundTrip(ParseComplete())
        assertRoundTrip(BindComplete())
        assertRoundTrip(CloseComplete())
        assertRoundTrip(NoData())
        assertRoundTrip(PortalSuspended())
        XCTAssertEqual(ParseComplete().encoded, [0x31, 0, 0, 0, 4])
    }

    func testParameterDescriptionAndRowDescription() throws {
        assertRoundTrip(ParameterDescription(parameterTypeOIDs: [23, 25, 1184]))
        assertRoundTrip(ParameterDescription(parameterTypeOIDs: []))
        let rows = RowDescription(textColumns: [(name: "database", typeOID: 25), (name: "count", typeOID: 20),
                                                (name: "n", typeOID: 23)])
        XCTAssertEqual(rows.fields.map(\.typeSize), [-1, 8, 4])
        XCTAssertEqual(rows.fields[0], RowDescription.Field(name: "database", tableOID: 0, columnAttribute: 0, typeOID: 25,
                                                            typeSize: -1, typeModifier: -1, format: 0))
        assertRoundTrip(rows)
        assertRoundTrip(RowDescription(fields: [.init(name: "id", tableOID: 16384, columnAttribute: 1, typeOID: 23,
                                                      typeSize: 4, typeModifier: -1, format: 1)]))
        XCTAssertTrue(isMalformed(wireError { try RowDescription.decode(body: [0xFF, 0xFF][...]) }))
        XCTAssertTrue(isMalformed(wireError { try RowDescription.decode(body: ([0, 1] + cString("id") + [0, 0])[...]) }))
    }

    func testDataRow() throws {
        let row = DataRow(["1", nil, "", "ü"])
        assertRoundTrip(row)
        XCTAssertEqual(row.columns, [[0x31], nil, [], [0xC3, 0xBC]])
        XCTAssertEqual(DataRow(["7", nil]).encoded, frame("D", [0, 2, 0, 0, 0, 1, 0x37, 0xFF, 0xFF, 0xFF, 0xFF]))
        XCTAssertTrue(isMalformed(wireError { try DataRow.decode(body: [0, 1, 0xFF, 0xFF, 0xFF, 0xFE][...]) }))
        XCTAssertTrue(isMalformed(wireError { try DataRow.decode(body: [0, 1, 0, 0, 0, 5, 1][...]) }))
    }

    func testNotificationAndNegotiateProtocolVersion() throws {
        assertRoundTrip(NotificationResponse(processID: 7, channel: "jobs", payload: "{\"id\":1}"))
        assertRoundTrip(NegotiateProtocolVersion(newestMinorVersion: 0, unrecognizedOptions: ["_pq_.foo", "_pq_.bar"]))
        assertRoundTrip(NegotiateProtocolVersion(newestMinorVersion: 2))
        XCTAssertTrue(isMalformed(wireError {
            try NegotiateProtocolVersion.decode(body: [0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0][...])
        }))
    }

    func testCopyResponses() throws {
        assertRoundTrip(CopyInResponse(format: 0, columnFormats: [0, 0]))
        assertRoundTrip(CopyOutResponse(format: 1, columnFormats: [1]))
        assertRoundTrip(CopyBothResponse(format: 0, columnFormats: []))
        XCTAssertEqual(CopyOutResponse(format: 0, columnFormats: [0]).encoded, frame("H", [0, 0, 1, 0, 0]))
        XCTAssertTrue(isMalformed(wireError { try CopyInResponse.decode(body: [0, 0, 2, 0, 0][...]) }))
    }
}
