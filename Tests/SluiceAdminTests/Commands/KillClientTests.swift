// KillClientTests: KILL_CLIENT ptr → tag KILL_CLIENT and .killClient(id) for a connected client.
@testable import SluiceCore
import XCTest

final class KillClientTests: XCTestCase {
    func testByPointerOrDecimalID() throws {
        let snapshot = Fixtures.snapshot(clients: [Fixtures.client(31)])
        try assertAction("KILL_CLIENT 0x1f", tag: "KILL_CLIENT", action: .killClient(31), snapshot: snapshot)
        try assertAction("kill_client 31", tag: "KILL_CLIENT", action: .killClient(31), snapshot: snapshot)
    }

    func testRefusals() throws {
        let snapshot = Fixtures.snapshot(clients: [Fixtures.client(31)])
        try assertRefused("KILL_CLIENT 0x1f", privilege: .stats, code: "42501", snapshot: snapshot)
        try assertRefused("KILL_CLIENT 0x20", code: "42704", snapshot: snapshot)
        try assertRefused("KILL_CLIENT zz", code: "42601", snapshot: snapshot)
    }
}
