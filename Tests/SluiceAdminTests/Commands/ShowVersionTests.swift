// ShowVersionTests: SHOW VERSION returns one text column `version`.
@testable import SluiceCore
import SluiceAdmin
import XCTest

final class ShowVersionTests: XCTestCase {
    func testVersion() throws {
        let table = try AdminConsoleHandler().table("SHOW VERSION")
        XCTAssertEqual(table.columnNames, ["version"])
        XCTAssertEqual(table.typeOID("version"), OID.text)
        XCTAssertEqual(table.rows, [["Sluice 0.1.0"]])
    }

    func testBareVersionGetsThePrefix() throws {
        var snapshot = Fixtures.snapshot()
        snapshot.version = "0.2.0"
        XCTAssertEqual(try AdminConsoleHandler().table("SHOW VERSION", snapshot: snapshot).rows, [["Sluice 0.2.0"]])
    }
}
