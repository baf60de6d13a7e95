// ActionAssertions: runs an action command and checks its CommandComplete tag and AdminAction.
@testable import SluiceCore
import SluiceAdmin
import XCTest

func assertAction(_ query: String, tag: String, action: AdminAction, snapshot: ProxySnapshot = Fixtures.snapshot(),
                  file: StaticString = #filePath, line: UInt = #line) throws {
    let reply = AdminConsoleHandler().execute(query: query, privilege: .admin, snapshot: snapshot)
    XCTAssertEqual(reply.action, action, file: file, line: line)
    let parts = try decodeReply(reply.bytes, file: file, line: line)
    guard parts.count == 1, case .completed(let completed) = parts[0] else {
        return XCTFail("expected CommandComplete, got \(parts)", file: file, line: line)
    }
    XCTAssertEqual(completed, tag, file: file, line: line)
}

func assertRefused(_ query: String, privilege: AdminPrivilege = .admin, code: String, message: String? = nil,
                   snapshot: ProxySnapshot = Fixtures.snapshot(), file: StaticString = #filePath, line: UInt = #line) throws {
    let error = try AdminConsoleHandler().error(query, privilege: privilege, snapshot: snapshot, file: file, line: line)
    XCTAssertEqual(error?.code, code, file: file, line: line)
    if let message { XCTAssertEqual(error?.message, message, file: file, line: line) }
}
