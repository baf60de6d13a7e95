// ReloadTests: RELOAD → tag RELOAD and .reload; admin only; no arguments.
@testable import SluiceCore
import XCTest

final class ReloadTests: XCTestCase {
    func testReload() throws {
        try assertAction("Reload", tag: "RELOAD", action: .reload)
    }

    func testRefusals() throws {
        try assertRefused("RELOAD", privilege: .stats, code: "42501")
        try assertRefused("RELOAD now", code: "42601")
    }
}
