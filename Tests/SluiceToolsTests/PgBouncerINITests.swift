// PgBouncerINITests: pgbouncer.ini sections and %include, userlist.txt quoting, [databases] connection strings.

import Foundation
@testable import SluiceTools
import SluiceConfig
import XCTest

final class PgBouncerINITests: XCTestCase {
    func testSectionsKeysAndComments() {
        let ini = PgBouncerINI.parse("""
            ; comment
            [databases]
            MyDb = host=h
            [PgBouncer]
            Listen_Port = 6433
            # another comment
            not a setting
            """, file: "p.ini")
        XCTAssertEqual(ini.settings.map(\.section), ["databases", "pgbouncer"])
        XCTAssertEqual(ini.settings.map(\.key), ["MyDb", "listen_port"], "database names keep their case")
        XCTAssertEqual(ini.settings[1].location, "p.ini:5")
        XCTAssertEqual(ini.unreadable.map(\.location), ["p.ini:7"])
    }

    func testIncludeKeepsTheSectionAndResolvesRelativePaths() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pgb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "[databases]\n%include more.ini\n[pgbouncer]\npool_mode = session\n"
            .write(to: directory.appendingPathComponent("main.ini"), atomically: true, encoding: .utf8)
        try "extra = host=h2\n".write(to: directory.appendingPathComponent("more.ini"), atomically: true, encoding: .utf8)
        let ini = try PgBouncerINI.load(path: directory.appendingPathComponent("main.ini").path)
        XCTAssertEqual(ini.settings.map(\.key), ["extra", "pool_mode"])
        XCTAssertEqual(ini.settings[0].section, "databases")
        XCTAssertTrue(ini.settings[0].location.hasSuffix("more.ini:1"))
    }

    func testUserlistQuoting() {
        let users = PgBouncerUserlist.parse("\"a\"\"b\" \"p w\"\n; comment\n\"c\" \"\"\n")
        XCTAssertEqual(users.map(\.user), ["a\"b", "c"])
        XCTAssertEqual(users.first?.password, "p w")
    }

    func testConnectionStringQuoting() {
        let pairs = ConnectionString.parse("host=h password='a b\\'c''d' dbname = x")
        XCTAssertEqual(pairs.map(\.key), ["host", "password", "dbname"])
        XCTAssertEqual(pairs[1].value, "a b'c'd")
        XCTAssertEqual(pairs[2].value, "x")
    }
}
