// DoctorVerdictTests: libpq, resolver and connect failures → verdict, column and fix.

@testable import SluiceTools
import XCTest

final class DoctorVerdictTests: XCTestCase {
    private func verdict(_ message: String) -> DoctorVerdict {
        DoctorVerdict.classify(libpqError: message, database: "app", timeout: 5)
    }

    func testLibpqMessages() {
        let auth = verdict("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"app\"")
        XCTAssertEqual(auth.verdict, "AUTH")
        XCTAssertTrue(auth.fix.contains("databases.app.url"))
        XCTAssertEqual(verdict("SSL error: certificate verify failed").verdict, "TLS")
        XCTAssertTrue(verdict("SSL error: certificate verify failed").fix.contains("sslrootcert=system"))
        XCTAssertEqual(verdict("server does not support SSL, but SSL was required").stage, .tls)
        XCTAssertEqual(verdict("could not translate host name \"x.invalid\" to address: Name or service not known").verdict, "DNS")
        XCTAssertEqual(verdict("connection to server at \"10.0.0.1\", port 5432 failed: timeout expired").verdict, "TIMEOUT")
        XCTAssertEqual(verdict("FATAL:  database \"nope\" does not exist").verdict, "AUTH")
        XCTAssertEqual(verdict("ERROR: Endpoint ID is not specified").verdict, "AUTH")
        XCTAssertEqual(verdict("FATAL:  sorry, too many clients already").verdict, "FULL")
    }

    func testConnectErrors() {
        XCTAssertEqual(DoctorVerdict.tcp(errorText: "Connection refused", database: "app", timeout: 5).verdict, "TCP")
        XCTAssertEqual(DoctorVerdict.tcp(errorText: "connection timed out", database: "app", timeout: 5).verdict, "TIMEOUT")
    }
}
