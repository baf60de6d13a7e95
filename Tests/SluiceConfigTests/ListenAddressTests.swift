// ListenAddressTests: the `listen` and `admin_listen` forms.

import SluiceConfig
import XCTest

final class ListenAddressTests: XCTestCase {
    private func listen(_ value: String) -> [ListenAddress]? {
        parsed("[sluice]\nlisten = \(value)\n" + minimalDatabase)?.listen
    }

    func testIPv4AndHostName() {
        XCTAssertEqual(listen(#""127.0.0.1:6432""#), [ListenAddress(host: "127.0.0.1", port: 6432)])
        XCTAssertEqual(listen(#""localhost:7000""#), [ListenAddress(host: "localhost", port: 7000)])
    }

    func testIPv6InBrackets() {
        XCTAssertEqual(listen(#""[::1]:6432""#), [ListenAddress(host: "::1", port: 6432)])
        XCTAssertEqual(ListenAddress(host: "::1", port: 6432).description, "[::1]:6432")
        XCTAssertEqual(ListenAddress(host: "10.0.0.1", port: 5).description, "10.0.0.1:5")
    }

    func testStarMeansEveryIPv4AndIPv6Interface() {
        XCTAssertEqual(listen(#""*:6432""#), [ListenAddress(host: "0.0.0.0", port: 6432), ListenAddress(host: "::", port: 6432)])
    }

    func testArrayAndCommaSeparatedList() {
        let both = [ListenAddress(host: "127.0.0.1", port: 6432), ListenAddress(host: "::1", port: 6433)]
        XCTAssertEqual(listen(#"["127.0.0.1:6432", "[::1]:6433"]"#), both)
        XCTAssertEqual(listen(#""127.0.0.1:6432, [::1]:6433""#), both)
    }

    func testBadAddresses() {
        let cases: [(String, String)] = [
            (#""127.0.0.1""#, #"invalid address "127.0.0.1": expected host:port"#),
            (#""::1:6432""#, #"invalid address "::1:6432": IPv6 addresses must be in brackets, e.g. [::1]:6432"#),
            (#"":6432""#, #"invalid address ":6432": missing host (use * for every interface)"#),
            (#""h:70000""#, #"invalid address "h:70000": port must be a number from 0 to 65535"#),
            (#""[::1:6432""#, #"invalid address "[::1:6432": missing "]""#),
            (#""a:1,a:1""#, "address a:1 is listed twice"),
            (#"[]"#, "at least one address is required"),
            (#"6432"#, "expected a string or an array of strings, got integer"),
            (#"[6432]"#, "expected a string or an array of strings, got an array holding integer"),
        ]
        for (value, reason) in cases {
            XCTAssertEqual(refusals("[sluice]\nlisten = \(value)\n" + minimalDatabase), ["sluice.toml: sluice.listen: \(reason)"], value)
        }
    }

    func testAdminListenIsOneAddressOrNone() {
        XCTAssertEqual(parsed("[sluice]\nadmin_listen = \"127.0.0.1:9187\"\n" + minimalDatabase)?.adminListen,
                       ListenAddress(host: "127.0.0.1", port: 9187))
        XCTAssertEqual(parsed("[sluice]\nadmin_listen = \"\"\n" + minimalDatabase)?.adminListen, nil)
        XCTAssertEqual(refusals("[sluice]\nadmin_listen = \"*:9187\"\n" + minimalDatabase), [
            #"sluice.toml: sluice.admin_listen: expected one address, but "*:9187" means 2 (0.0.0.0:9187 and [::]:9187); write one of them"#,
        ])
    }
}
