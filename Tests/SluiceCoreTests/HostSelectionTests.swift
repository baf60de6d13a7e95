// Tests for HostSelection: libpq's multi-host order and target_session_attrs, step by step.
import XCTest
import SluiceConfig
@testable import SluiceCore

final class HostSelectionTests: XCTestCase {
    private let a = UpstreamHost(host: "a", port: 5432)
    private let b = UpstreamHost(host: "b", port: 5433)
    private let c = UpstreamHost(host: "c", port: 5434)

    func testRolesFromParameters() {
        XCTAssertEqual(ServerRole(parameters: ["in_hot_standby": "on"]), .standby)
        XCTAssertEqual(ServerRole(parameters: ["in_hot_standby": "off", "default_transaction_read_only": "off"]), .primary(readOnly: false))
        XCTAssertEqual(ServerRole(parameters: ["in_hot_standby": "off", "default_transaction_read_only": "on"]), .primary(readOnly: true))
        XCTAssertEqual(ServerRole(parameters: [:]), .unknown)
    }

    func testWhatEachTargetAccepts() {
        let roles: [ServerRole] = [.primary(readOnly: false), .primary(readOnly: true), .standby, .unknown]
        let expected: [TargetSessionAttrs: [Bool]] = [
            .any: [true, true, true, true],
            .readWrite: [true, false, false, false],
            .readOnly: [false, true, true, false],
            .primary: [true, true, false, false],
            .standby: [false, false, true, false],
            .preferStandby: [false, false, true, false],  // its first pass
        ]
        for (attrs, fits) in expected {
            let selection = HostSelection(hosts: [a], attrs: attrs)
            XCTAssertEqual(roles.map(selection.fits), fits, attrs.rawValue)
        }
    }

    func testUnreachableAndWrongHostsPassTheTurn() {
        var s = HostSelection(hosts: [a, b, c], attrs: .readWrite)
        XCTAssertEqual(s.current, a)
        XCTAssertEqual(s.connectFailed("connection refused"), .tryHost(b))
        XCTAssertEqual(s.loggedIn(as: .standby), .tryHost(c))
        XCTAssertEqual(s.loggedIn(as: .primary(readOnly: false)), .accept)
        var none = HostSelection(hosts: [a, b], attrs: .readWrite)
        _ = none.loggedIn(as: .standby)
        XCTAssertEqual(none.connectFailed("timeout"),
                       .fail("no read-write server among 2 hosts (a:5432: is standby; b:5433: timeout)"))
    }

    func testPreferStandbyTriesStandbysFirstThenAnyServer() {
        var s = HostSelection(hosts: [a, b], attrs: .preferStandby)
        XCTAssertEqual(s.loggedIn(as: .primary(readOnly: false)), .tryHost(b))
        XCTAssertEqual(s.loggedIn(as: .standby), .accept)
        var noStandby = HostSelection(hosts: [a, b], attrs: .preferStandby)
        XCTAssertEqual(noStandby.loggedIn(as: .primary(readOnly: false)), .tryHost(b))
        XCTAssertEqual(noStandby.connectFailed("refused"), .tryHost(a), "second pass: any server")
        XCTAssertEqual(noStandby.loggedIn(as: .primary(readOnly: false)), .accept)
    }

    func testOrderAndOldServers() {
        let shuffled = HostSelection(hosts: [a, b, c], attrs: .any, order: [2, 0, 1])
        XCTAssertEqual(shuffled.current, c, "load_balance_hosts: the caller's order")
        var old = HostSelection(hosts: [a], attrs: .standby)
        XCTAssertEqual(old.loggedIn(as: .unknown),
                       .fail("no standby server among the host (a:5432: does not report in_hot_standby (target_session_attrs needs PostgreSQL 14 or later))"))
        var any = HostSelection(hosts: [a], attrs: .any)
        XCTAssertEqual(any.loggedIn(as: .unknown), .accept)
    }

    func testALaggingStandbyPassesTheTurnAndMarksTheAttempt() {
        var s = HostSelection(hosts: [a, b], attrs: .preferStandby)
        XCTAssertFalse(s.passedOverLagging)
        XCTAssertEqual(s.lagging(seconds: 12.34, limit: 5), .tryHost(b))
        XCTAssertTrue(s.passedOverLagging, "the server this attempt ends with is a stand-in")
        XCTAssertEqual(s.loggedIn(as: .primary(readOnly: false)), .tryHost(a), "second pass: any server")
        XCTAssertEqual(s.lagging(seconds: 12.4, limit: 5), .tryHost(b))
        XCTAssertEqual(s.loggedIn(as: .primary(readOnly: false)), .accept)
        var only = HostSelection(hosts: [a], attrs: .standby)
        XCTAssertEqual(only.lagging(seconds: 7, limit: 5),
                       .fail("no standby server among the host (a:5432: is 7 s behind (max_replica_lag 5 s))"))
    }
}
