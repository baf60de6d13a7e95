// DoctorReportTests: the capacity check across databases sharing an upstream, and the table layout.

@testable import SluiceTools
import XCTest

final class DoctorReportTests: XCTestCase {
    func testCapacityWarningSumsDatabasesOnOneUpstream() {
        var rows = ["a", "b"].map { name in
            var row = DoctorReport.Row(database: name, host: "db", port: 5432, poolSize: 30)
            row.maxConnections = 100
            row.reservedConnections = 3
            return row
        }
        DoctorReport.addCapacityWarnings(&rows, replicas: 2)
        XCTAssertEqual(rows.map(\.verdict), ["WARN", "WARN"])
        XCTAssertTrue(rows[0].warnings[0].contains("120"), rows[0].warnings[0])
        var fits = [DoctorReport.Row(database: "a", host: "db", port: 5432, poolSize: 30)]
        fits[0].maxConnections = 100
        DoctorReport.addCapacityWarnings(&fits, replicas: 3)
        XCTAssertEqual(fits[0].verdict, "OK")
    }

    func testTableMarksFailuresAndFixes() {
        var row = DoctorReport.Row(database: "app", host: "db", port: 5432, poolSize: 5)
        row.dns = "ok"
        row.dnsMs = 0.42
        row.fail(DoctorVerdict.tcp(errorText: "Connection refused", database: "app", timeout: 5),
                 message: "TCP connect to db:5432 failed: Connection refused")
        let text = DoctorReport(replicas: 1, rows: [row]).text
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0].split(separator: " ").first, "database")
        XCTAssertEqual(lines[1].split(separator: " ").map(String.init),
                       ["app", "db:5432", "ok", "0.42", "FAIL", "-", "-", "-", "-", "TCP"], lines[1])
        XCTAssertTrue(text.contains("  fix: connection refused"))
        XCTAssertTrue(text.contains("1 of 1 database(s) failed."))
    }
}
