// SCRAMTests: RFC 7677 vectors, client ↔ server exchanges and every failure the exchanges report.

import XCTest
@testable import PostgresWire

final class SCRAMTests: XCTestCase {
    static let rfcSalt = "W22ZaJ0SNY7soEsUEjb6gQ=="
    static let rfcClientNonce = "rOprNGfwEbeRWgbNEkqO"
    static let rfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let rfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    static let rfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    /// As printed in RFC 7677 section 3 (and recomputed with Python's hmac/hashlib).
    static let rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    /// Computed with Python: hashlib.pbkdf2_hmac('sha256', b'pencil', salt, 4096) then hmac/sha256.
    static let pencilStoredKey = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
    static let pencilServerKey = "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

    static let pencilSecret = SCRAMSecret.derive(password: "pencil", salt: Base64.decode(rfcSalt)!, iterations: 4096)

    func testDerivedSecretMatchesPythonHashlib() {
        let secret = Self.pencilSecret
        XCTAssertEqual(Base64.encode(secret.storedKey), Self.pencilStoredKey)
        XCTAssertEqual(Base64.encode(secret.serverKey), Self.pencilServerKey)
        XCTAssertEqual(secret.stored, "SCRAM-SHA-256$4096:\(Self.rfcSalt)$\(Self.pencilStoredKey):\(Self.pencilServerKey)")
    }

    func testRFC7677MathWithTheRFCAuthMessage() {
        let salted = SCRAM.saltedPassword(password: "pencil", salt: Base64.decode(Self.rfcSalt)!, iterations: 4096)
        let authMessage = "n=user,r=\(Self.rfcClientNonce),\(Self.rfcServerFirst),c=biws,r=\(Self.rfcClientNonce)\(Self.rfcServerNonce)"
        let proof = SCRAM.clientProof(clientKey: SCRAM.clientKey(saltedPassword: salted), authMessage: authMessage)
        XCTAssertEqual("p=" + Base64.encode(proof), Self.rfcClientFinal.components(separatedBy: ",").last)
        let signature = SCRAM.serverSignature(serverKey: SCRAM.serverKey(saltedPassword: salted), authMessage: authMessage)
        XCTAssertEqual("v=" + Base64.encode(signature), Self.rfcServerFinal)
    }

    func testRFC7677FullExchangeWithTheRFCUserName() throws {
        var client = SCRAMClientExchange(password: "pencil", nonce: Self.rfcClientNonce)
        client.username = "user"
        var server = SCRAMServerExchange(secret: Self.pencilSecret, nonce: Self.rfcServerNonce)
        let first = client.initialResponse()
        XCTAssertEqual(first.mechanism, "SCRAM-SHA-256")
        XCTAssertEqual(String(decoding: first.data, as: UTF8.self), "n,,n=user,r=\(Self.rfcClientNonce)")
        let serverFirst = try server.clientFirstReceived(first.data).get()
        XCTAssertEqual(String(decoding: serverFirst, as: UTF8.self), Self.rfcServerFirst)
        let clientFinal = try client.serverFirstReceived(serverFirst).get()
        XCTAssertEqual(String(decoding: clientFinal, as: UTF8.self), Self.rfcClientFinal)
        let serverFinal = try server.clientFinalReceived(clientFinal).get()
        XCTAssertEqual(String(decoding: serverFinal, as: UTF8.self), Self.rfcServerFinal)
        XCTAssertNoThrow(try client.serverFinalReceived(serverFinal).get())
        XCTAssertTrue(client.isFinished)
        XCTAssertTrue(server.isFinished)
    }

    func testOurClientSendsAnEmptyUserName() {
        var client = SCRAMClientExchange(password: "x", nonce: "abc")
        XCTAssertEqual(String(decoding: client.initialResponse().data, as: UTF8.self), "n,,n=,r=abc")
        var yes = SCRAMClientExchange(password: "x", channelBinding: .clientSupportsButNotUsed, nonce: "abc")
        XCTAssertEqual(String(decoding: yes.initialResponse().data, as: UTF8.self), "y,,n=,r=abc")
    }

    /// Runs a whole exchange; returns the first failure.
    func exchange(clientPassword: String, secret: SCRAMSecret, binding: SCRAMChannelBinding = .none,
                  tamperClientFinal: (String) -> String = { $0 }, tamperServerFinal: (String) -> String = { $0 }) -> SCRAMError? {
        var client = SCRAMClientExchange(password: clientPassword, channelBinding: binding)
        var server = SCRAMServerExchange(secret: secret)
        do {
            let serverFirst = try server.clientFirstReceived(client.initialResponse().data).get()
            let clientFinal = try client.serverFirstReceived(serverFirst).get()
            let tampered = Array(tamperClientFinal(String(decoding: clientFinal, as: UTF8.self)).utf8)
            let serverFinal = try server.clientFinalReceived(tampered).get()
            try client.serverFinalReceived(Array(tamperServerFinal(String(decoding: serverFinal, as: UTF8.self)).utf8)).get()
            return nil
        } catch {
            return error
        }
    }

    func testClientAgainstServerWithTheSamePassword() {
        let secret = SCRAMSecret.derive(password: "s3cret pässword", salt: SCRAM.generateSalt(), iterations: 4096)
        XCTAssertNil(exchange(clientPassword: "s3cret pässword", secret: secret))
        XCTAssertNil(exchange(clientPassword: "s3cret pässword", secret: secret, binding: .clientSupportsButNotUsed))
    }

    func testWrongPasswordIsInvalidProof() {
        XCTAssertEqual(exchange(clientPassword: "pencil2", secret: Self.pencilSecret), .invalidProof)
    }

    func testTamperedNonceIsNonceMismatch() {
        let error = exchange(clientPassword: "pencil", secret: Self.pencilSecret, tamperClientFinal: {
            $0.replacingOccurrences(of: ",r=", with: ",r=X")
        })
        XCTAssertEqual(error, .nonceMismatch)
    }

    func testTamperedServerSignatureIsMismatch() {
        let error = exchange(clientPassword: "pencil", secret: Self.pencilSecret, tamperServerFinal: { _ in
            "v=" + Base64.encode([UInt8](repeating: 7, count: 32))
        })
        XCTAssertEqual(error, .serverSignatureMismatch)
        XCTAssertEqual(exchange(clientPassword: "pencil", secret: Self.pencilSecret, tamperServerFinal: { _ in "e=other-error" }),
                       .serverError("other-error"))
    }

    func testTamperedChannelBindingEchoIsRejected() {
        let error = exchange(clientPassword: "pencil", secret: Self.pencilSecret, tamperClientFinal: {
            $0.replacingOccurrences(of: "c=biws", with: "c=eSws")
        })
        guard case .malformedMessage = error else { return XCTFail("\(String(describing: error))") }
    }

    func testServerRejectsChannelBindingAndBadClientFirst() {
        var server = SCRAMServerExchange(secret: Self.pencilSecret)
        XCTAssertEqual(server.clientFirstReceived(Array("p=tls-server-end-point,,n=,r=abc".utf8)), .failure(.unsupportedChannelBinding))
        XCTAssertEqual(server.clientFirstReceived(Array("n,,n=,r=abc".utf8)), .failure(.invalidState), "failed exchanges stay failed")
        for bad in ["", "x,,n=,r=a", "n,a=admin,n=,r=a", "n,,r=a", "n,,n=,r=", "n,,n=,r=a,m=ext", "n,,n=,r=a b", "n", "n,"] {
            var fresh = SCRAMServerExchange(secret: Self.pencilSecret)
            guard case .failure(.malformedMessage) = fresh.clientFirstReceived(Array(bad.utf8)) else {
                return XCTFail("accepted \(bad)")
            }
        }
        var fresh = SCRAMServerExchange(secret: Self.pencilSecret)
        XCTAssertEqual(fresh.clientFinalReceived(Array("c=biws,r=a,p=b".utf8)), .failure(.invalidState))
    }

    func testServerRejectsMalformedClientFinal() throws {
        for bad in ["", "c=biws", "c=biws,r=abc", "r=abc,c=biws,p=AAAA", "c=biws,r=abcX,p=notbase64!", "c=biws,r=abcX,p=AAAA"] {
            var server = SCRAMServerExchange(secret: Self.pencilSecret, nonce: "X")
            _ = try server.clientFirstReceived(Array("n,,n=,r=abc".utf8)).get()
            guard case .failure(.malformedMessage) = server.clientFinalReceived(Array(bad.utf8)) else {
                return XCTFail("accepted \(bad)")
            }
        }
    }

    func testClientChecksServerFirst() {
        let cases: [(String, SCRAMError)] = [
            ("r=zzz,s=\(Self.rfcSalt),i=4096", .nonceMismatch),
            ("r=abc,s=\(Self.rfcSalt),i=4096", .nonceMismatch),
            ("r=abcX,s=not base64,i=4096", .malformedMessage("server salt is not base64")),
            ("r=abcX,s=\(Self.rfcSalt),i=0", .malformedMessage("server iteration count is out of range")),
            ("r=abcX,s=\(Self.rfcSalt),i=100000001", .malformedMessage("server iteration count is out of range")),
            ("m=x,r=abcX,s=\(Self.rfcSalt),i=1", .malformedMessage("server-first has an unsupported mandatory extension")),
            ("garbage", .malformedMessage("server-first does not parse")),
        ]
        for (message, expected) in cases {
            var client = SCRAMClientExchange(password: "pencil", nonce: "abc")
            _ = client.initialResponse()
            XCTAssertEqual(client.serverFirstReceived(Array(message.utf8)).map { _ in () }.error, expected, message)
        }
        var early = SCRAMClientExchange(password: "pencil", nonce: "abc")
        XCTAssertEqual(early.serverFirstReceived(Array("r=abcX,s=\(Self.rfcSalt),i=1".utf8)).map { _ in () }.error, .invalidState)
    }

    func testTLSServerEndPointBindingData() throws {
        let hash = [UInt8](repeating: 0xAB, count: 32)
        var client = SCRAMClientExchange(password: "pencil", channelBinding: .tlsServerEndPoint(certificateHash: hash), nonce: "abc")
        let first = client.initialResponse()
        XCTAssertEqual(first.mechanism, "SCRAM-SHA-256-PLUS")
        XCTAssertEqual(String(decoding: first.data, as: UTF8.self), "p=tls-server-end-point,,n=,r=abc")
        let final = String(decoding: try client.serverFirstReceived(Array("r=abcX,s=\(Self.rfcSalt),i=1".utf8)).get(), as: UTF8.self)
        let c = String(final.split(separator: ",")[0].dropFirst(2))
        XCTAssertEqual(Base64.decode(c), Array("p=tls-server-end-point,,".utf8) + hash)
    }

    func testCachedKeysAreReusedWhenSaltAndIterationsMatch() throws {
        var first = SCRAMClientExchange(password: "pencil")
        var server = SCRAMServerExchange(secret: Self.pencilSecret)
        let clientFinal = try first.serverFirstReceived(try server.clientFirstReceived(first.initialResponse().data).get()).get()
        _ = try server.clientFinalReceived(clientFinal).get()
        let keys = try XCTUnwrap(first.keys)
        XCTAssertEqual(keys.iterations, 4096)
        // A cache made from a different password proves the cache, not PBKDF2, was used.
        let bogus = SCRAMClientKeys(password: "not pencil", salt: keys.salt, iterations: keys.iterations)
        var cached = SCRAMClientExchange(password: "pencil", cachedKeys: bogus)
        var server2 = SCRAMServerExchange(secret: Self.pencilSecret)
        let final2 = try cached.serverFirstReceived(try server2.clientFirstReceived(cached.initialResponse().data).get()).get()
        XCTAssertEqual(server2.clientFinalReceived(final2).map { _ in () }.error, .invalidProof)
        XCTAssertNil(exchangeWithCache(keys))
    }

    func exchangeWithCache(_ keys: SCRAMClientKeys) -> SCRAMError? {
        var client = SCRAMClientExchange(password: "wrong but cached", cachedKeys: keys)
        var server = SCRAMServerExchange(secret: Self.pencilSecret)
        do {
            let serverFirst = try server.clientFirstReceived(client.initialResponse().data).get()
            let serverFinal = try server.clientFinalReceived(try client.serverFirstReceived(serverFirst).get()).get()
            return client.serverFinalReceived(serverFinal).error
        } catch {
            return error
        }
    }

    func testSecretParseRoundTripAndRejects() {
        let secret = Self.pencilSecret
        XCTAssertEqual(SCRAMSecret.parse(secret.stored), secret)
        for bad in ["", "md5abc", "SCRAM-SHA-256$4096:\(Self.rfcSalt)$\(Self.pencilStoredKey)",
                    "SCRAM-SHA-256$0:\(Self.rfcSalt)$\(Self.pencilStoredKey):\(Self.pencilServerKey)",
                    "SCRAM-SHA-256$4096:@@@@$\(Self.pencilStoredKey):\(Self.pencilServerKey)",
                    "SCRAM-SHA-256$4096:\(Self.rfcSalt)$\(Self.rfcSalt):\(Self.pencilServerKey)",
                    "SCRAM-SHA-1$4096:\(Self.rfcSalt)$\(Self.pencilStoredKey):\(Self.pencilServerKey)"] {
            XCTAssertNil(SCRAMSecret.parse(bad), bad)
        }
    }
}

extension Result {
    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
