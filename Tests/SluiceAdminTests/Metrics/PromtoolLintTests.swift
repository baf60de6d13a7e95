// PromtoolLintTests: the rendered exposition passes `promtool check metrics` (skipped where promtool is absent).
import CoreMetrics
import Foundation
@testable import SluiceCore
import SluiceAdmin
import XCTest

final class PromtoolLintTests: XCTestCase {
    func testExpositionPassesPromtool() throws {
        let promtool = "/usr/bin/promtool"
        guard FileManager.default.isExecutableFile(atPath: promtool) else { throw XCTSkip("promtool is not installed") }
        let metrics = SluiceMetrics()
        let factory = metrics.makeFactory()
        let timer = factory.makeTimer(label: "sluice_server_hold_seconds", dimensions: [("database", "app")])
        timer.recordNanoseconds(1_500_000)
        var totals = RuntimeStats()
        totals.serverCloses = ["upstream_closed:57P01": 1]
        totals.clientCloses = ["client_close": 3]
        let clients = [Fixtures.client(1, application: "web \"quoted\" \\ name", held: 40, transactionStatus: "T")]
        let text = metrics.render(Fixtures.snapshot(clients: clients, totals: totals))

        try assertPromtoolAccepts(text, promtool: promtool)
    }
}

/// Feeds an exposition to `promtool check metrics` and fails the test with its report unless it passes.
func assertPromtoolAccepts(_ text: String, promtool: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: promtool)
    process.arguments = ["check", "metrics"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = output
    try process.run()
    input.fileHandleForWriting.write(Data(text.utf8))
    try input.fileHandleForWriting.close()
    let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0, "promtool check metrics:\n\(report)\n---\n\(text)", file: file, line: line)
}
