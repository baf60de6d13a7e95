// HTTPGetTests: http:// URLs split into host, port and path; status lines; a refused connection is a reason.

@testable import SluiceTools
import XCTest

final class HTTPGetTests: XCTestCase {
    func testHTTPURLParsing() {
        XCTAssertEqual(HTTPGet.parse("http://127.0.0.1:9187/metrics"), HTTPGet.Address(host: "127.0.0.1", port: 9187, path: "/metrics"))
        XCTAssertEqual(HTTPGet.parse("http://[::1]:9/m"), HTTPGet.Address(host: "::1", port: 9, path: "/m"))
        XCTAssertEqual(HTTPGet.parse("http://example"), HTTPGet.Address(host: "example", port: 80, path: "/"))
        XCTAssertNil(HTTPGet.parse("https://x/metrics"))
        XCTAssertNil(HTTPGet.parse("http://x:99999/"))
        XCTAssertNil(HTTPGet.parse("http://:80/"))
    }

    func testHTTPAnswers() {
        XCTAssertEqual(try HTTPGet.parseAnswer(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)).get(), "ok")
        guard case .failure(let failure) = HTTPGet.parseAnswer(Array("HTTP/1.1 404 Not Found\r\n\r\n".utf8)) else {
            return XCTFail("404 accepted")
        }
        XCTAssertEqual(failure.message, "HTTP 404 Not Found")
    }

    func testUnreachableMetricsIsAReason() {
        // Nothing listens on port 1 of loopback: a refusal, reported, not a hang.
        guard case .failure(let failure) = HTTPGet.get("http://127.0.0.1:1/metrics", timeout: 2) else {
            return XCTFail("port 1 answered")
        }
        XCTAssertTrue(failure.message.contains("refused"), failure.message)
    }
}
