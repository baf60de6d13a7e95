// MD5PasswordTests: PostgreSQL's md5 scheme against values computed with Python's hashlib.

import XCTest
@testable import PostgresWire

final class MD5PasswordTests: XCTestCase {
    func testHashMatchesPython() {
        // "md5" + md5(md5("secret" + "postgres").hexdigest() + bytes([1, 2, 3, 4])).hexdigest()
        XCTAssertEqual(MD5Password.hash(user: "postgres", password: "secret", salt: [1, 2, 3, 4]),
                       "md5bb41a296aab6baccb36ff243a562abff")
        XCTAssertEqual(MD5Password.storedHash(user: "postgres", password: "secret"), "md553f48b7c4b76a86ce72276c5755f217d")
        XCTAssertEqual(MD5Password.hash(storedHash: "md553f48b7c4b76a86ce72276c5755f217d", salt: [1, 2, 3, 4]),
                       "md5bb41a296aab6baccb36ff243a562abff")
    }

    func testVerify() {
        let response = MD5Password.hash(user: "postgres", password: "secret", salt: [1, 2, 3, 4])
        XCTAssertTrue(MD5Password.verify(response: response, user: "postgres", password: "secret", salt: [1, 2, 3, 4]))
        XCTAssertFalse(MD5Password.verify(response: response, user: "postgres", password: "secret", salt: [1, 2, 3, 5]))
        XCTAssertFalse(MD5Password.verify(response: "md5", user: "postgres", password: "secret", salt: [1, 2, 3, 4]))
    }
}
