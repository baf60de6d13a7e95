// CryptoTests: constant-time comparison, base64 and the OpenSSL wrappers against known vectors.

import XCTest
@testable import PostgresWire

final class CryptoTests: XCTestCase {
    func testConstantTimeEquals() {
        XCTAssertTrue(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        XCTAssertFalse(constantTimeEquals([1, 2, 3], [1, 2, 4]))
        XCTAssertFalse(constantTimeEquals([1, 2, 3], [1, 2]))
        XCTAssertTrue(constantTimeEquals([UInt8](), [UInt8]()))
        XCTAssertTrue(constantTimeEquals([0, 1, 2, 3][1...], [1, 2, 3]))
    }

    func testBase64() {
        let vectors: [(String, String)] = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                                           ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base64.encode(Array(plain.utf8)), encoded)
            XCTAssertEqual(Base64.decode(encoded), Array(plain.utf8))
        }
        for bad in ["Zg", "Zg=", "Z===", "Zh==", "Zm9=", "Zm9v!", "Zg==Zg==", "Zm 9v", "====", "Zm8=\n"] {
            XCTAssertNil(Base64.decode(bad), bad)
        }
    }

    func testDigests() {
        XCTAssertEqual(Crypto.hex(Crypto.sha256(Array("abc".utf8))),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Crypto.hex(Crypto.md5([])), "d41d8cd98f00b204e9800998ecf8427e")
        // RFC 4231 test case 2.
        XCTAssertEqual(Crypto.hex(Crypto.hmacSHA256(key: Array("Jefe".utf8), "what do ya want for nothing?")),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        XCTAssertEqual(Crypto.randomBytes(18).count, 18)
        XCTAssertNotEqual(SCRAM.generateNonce(), SCRAM.generateNonce())
        XCTAssertEqual(SCRAM.generateNonce().count, 24)
    }
}
