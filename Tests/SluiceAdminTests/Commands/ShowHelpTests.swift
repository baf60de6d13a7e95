// ShowHelpTests: SHOW HELP lists the commands as rows.
@testable import SluiceCore
import SluiceAdmin
import XCTest

final class ShowHelpTests: XCTestCase {
    func testHelp() throws {
        let table = try AdminConsoleHandler().table("SHOW HELP", privilege: .stats)
        XCTAssertEqual(table.columnNames, ["command"])
        let lines = table.values("command").compactMap { $0 }
        XCTAssertTrue(lines.contains("PAUSE [<db>]"))
        XCTAssertTrue(lines.contains("SHUTDOWN"))
        XCTAssertTrue(lines[0].hasPrefix("SHOW HELP|POOLS|CLIENTS|SERVERS|STATS"))
    }
}
