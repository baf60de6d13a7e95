// TLSTests: TLSContext, TLSSession and TCPSocket's TLS path over a socketpair with throwaway certificates.
import Foundation
import XCTest
@testable import SluiceIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class TLSTests: XCTestCase {
    nonisolated(unsafe) static var certificates: TLSTestCertificates?
    nonisolated(unsafe) static var setupError: Error?

    override class func setUp() {
        super.setUp()
        signal(SIGPIPE, SIG_IGN)
        do { certificates = try TLSTestCertificates() } catch { setupError = error }
    }

    override class func tearDown() {
        certificates?.remove()
        certificates = nil
        super.tearDown()
    }

    private func certs() throws -> TLSTestCertificates {
        guard let certificates = Self.certificates else { throw Self.setupError ?? TestFailure("no certificates") }
        return certificates
    }

    private func serverContext(clientVerification: TLSClientVerification = .none, expired: Bool = false,
                               minimumVersion: TLSVersion = .v1_2) throws -> TLSContext {
        let c = try certs()
        return try TLSContext.server(certificateFile: expired ? c.expiredCertificate : c.serverCertificate,
                                     keyFile: expired ? c.expiredKey : c.serverKey,
                                     caFile: clientVerification == .none ? nil : c.caCertificate,
                                     clientVerification: clientVerification, minimumVersion: minimumVersion)
    }

    private func clientContext(_ verification: TLSServerVerification = .verifyCA, roots: TLSRoots? = nil,
                               withCertificate: Bool = false, maximumVersion: TLSVersion? = nil) throws -> TLSContext {
        let c = try certs()
        return try TLSContext.client(verification: verification, rootCertificates: roots ?? .file(c.caCertificate),
                                     certificateFile: withCertificate ? c.clientCertificate : nil,
                                     keyFile: withCertificate ? c.clientKey : nil, maximumVersion: maximumVersion)
    }

    /// Starts TLS on both ends of a fresh socketpair and runs the handshake.
    private func connect(server: TLSContext, client: TLSContext, serverName: String? = "localhost")
        throws -> (pair: SocketPairHarness, client: TLSHandshakeResult, server: TLSHandshakeResult) {
        let pair = try SocketPairHarness()
        pair.client.startTLS(try TLSSession(context: client, role: .client(serverName: serverName)))
        pair.server.startTLS(try TLSSession(context: server, role: .server))
        let (clientResult, serverResult) = pair.handshake()
        return (pair, clientResult, serverResult)
    }

    private func failureText(_ result: TLSHandshakeResult) -> String? {
        if case .failed(let error) = result { return error.description }
        return nil
    }

    // MARK: Handshake and negotiation

    func testHandshakeNegotiatesTLS13AndPostgreSQLALPN() throws {
        let (pair, clientResult, serverResult) = try connect(server: try serverContext(), client: try clientContext())
        XCTAssertEqual(clientResult, .complete)
        XCTAssertEqual(serverResult, .complete)
        XCTAssertTrue(pair.client.isTLS)
        XCTAssertTrue(pair.server.isTLS)
        for session in [pair.client.tlsSession!, pair.server.tlsSession!] {
            XCTAssertEqual(session.negotiatedProtocol, "TLSv1.3")
            XCTAssertEqual(session.alpn, "postgresql")
            XCTAssertNotNil(session.cipher)
        }
        XCTAssertEqual(pair.client.tlsSession?.peerCertificateSubject, "O=Sluice Tests,CN=localhost")
        XCTAssertNil(pair.server.tlsSession?.peerCertificateSubject)
    }

    func testClientMaximumTLS12NegotiatesTLS12() throws {
        let (pair, clientResult, serverResult) = try connect(server: try serverContext(),
                                                             client: try clientContext(maximumVersion: .v1_2))
        XCTAssertEqual(clientResult, .complete)
        XCTAssertEqual(serverResult, .complete)
        XCTAssertEqual(pair.client.tlsSession?.negotiatedProtocol, "TLSv1.2")
        XCTAssertEqual(pair.server.tlsSession?.negotiatedProtocol, "TLSv1.2")
        XCTAssertEqual(pair.server.tlsSession?.alpn, "postgresql")
    }

    func testServerMinimumAboveClientMaximumFails() throws {
        let (_, clientResult, serverResult) = try connect(server: try serverContext(minimumVersion: .v1_3),
                                                          client: try clientContext(maximumVersion: .v1_2))
        XCTAssertNotNil(failureText(clientResult))
        XCTAssertNotNil(failureText(serverResult))
    }

    func testVersionParsing() {
        XCTAssertEqual(TLSVersion(rawValue: "TLSv1.2"), .v1_2)
        XCTAssertEqual(TLSVersion(parsing: "tlsv1.3"), .v1_3)
        XCTAssertEqual(TLSVersion(parsing: "1.2"), .v1_2)
        XCTAssertNil(TLSVersion(parsing: "TLSv1.1"))
    }

    // MARK: Certificate verification

    func testVerifyFullAcceptsMatchingHostName() throws {
        let (pair, clientResult, serverResult) = try connect(server: try serverContext(),
                                                             client: try clientContext(.verifyFull))
        XCTAssertEqual(clientResult, .complete)
        XCTAssertEqual(serverResult, .complete)
        XCTAssertEqual(pair.client.tlsSession?.alpn, "postgresql")
    }

    func testVerifyFullAcceptsMatchingIPAddress() throws {
        let (_, clientResult, serverResult) = try connect(server: try serverContext(),
                                                          client: try clientContext(.verifyFull), serverName: "127.0.0.1")
        XCTAssertEqual(clientResult, .complete)
        XCTAssertEqual(serverResult, .complete)
    }

    func testVerifyFullRejectsWrongHostName() throws {
        let (pair, clientResult, serverResult) = try connect(server: try serverContext(),
                                                             client: try clientContext(.verifyFull), serverName: "wrong.example")
        let text = try XCTUnwrap(failureText(clientResult))
        XCTAssertTrue(text.contains("hostname") || text.contains("mismatch"), text)
        XCTAssertNotNil(failureText(serverResult), "the server should read the client's alert")
        XCTAssertEqual(pair.client.lastTLSError.map { "\($0)" }, text)
    }

    func testVerifyFullRejectsWrongIPAddress() throws {
        let (_, clientResult, _) = try connect(server: try serverContext(),
                                               client: try clientContext(.verifyFull), serverName: "127.0.0.2")
        let text = try XCTUnwrap(failureText(clientResult))
        XCTAssertTrue(text.contains("mismatch"), text)
    }

    func testUnknownCertificateAuthorityIsRejected() throws {
        let c = try certs()
        let (_, clientResult, serverResult) = try connect(server: try serverContext(),
                                                          client: try clientContext(.verifyCA, roots: .file(c.otherCACertificate)))
        let text = try XCTUnwrap(failureText(clientResult))
        XCTAssertTrue(text.contains("unable to get local issuer certificate"), text)
        let serverText = try XCTUnwrap(failureText(serverResult))
        XCTAssertTrue(serverText.contains("unknown ca"), serverText)
    }

    func testExpiredCertificateIsRejected() throws {
        let (_, clientResult, _) = try connect(server: try serverContext(expired: true), client: try clientContext(.verifyCA))
        let text = try XCTUnwrap(failureText(clientResult))
        XCTAssertTrue(text.contains("expired"), text)
    }

    func testNoVerificationAcceptsUnknownCertificateAuthority() throws {
        let c = try certs()
        let (pair, clientResult, serverResult) = try connect(
            server: try serverContext(), client: try clientContext(.none, roots: .file(c.otherCACertificate)),
            serverName: "wrong.example")
        XCTAssertEqual(clientResult, .complete)
        XCTAssertEqual(serverResult, .complete)
        XCTAssertEqual(pair.client.tlsSession?.negotiatedProtocol, "TLSv1.3")
    }

    func testRequiredClientCertificateMissingIsRejected() throws {
        let (pair, clientResult, serverResult) = try connect(server: try serverContext(clientVerification: .verifyCA),
                                                             client: try clientContext())
        let serverText = try XCTUnwrap(failureText(serverResult))
        XCTAssertTrue(serverText.contains("certificate"), serverText)
        // Under TLS 1.3 the client finishes first and learns of the refusal on its next read.
        if clientResult == .complete {
            var sink: [UInt8] = []
            let outcome = SocketPairHarness.drain(pair.client, into: &sink, buffer: ByteBuffer(capacity: 1024))
            XCTAssertEqual(outcome, .failed(EPROTO))
            let text = try XCTUnwrap(pair.client.lastTLSError).description
            XCTAssertTrue(text.contains("certificate required"), text)
        } else {
            XCTAssertNotNil(failureText(clientResult))
        }
    }

    func testRequiredClientCertificateSignedByCAIsAccepted() throws {
        let (pair, clientResult, serverResult) = try connect(server: try serverContext(clientVerification: .verifyCA),
                                                             client: try clientContext(withCertificate: true))
        XCTAssertEqual(clientResult, .complete)
        XCTAssertEqual(serverResult, .complete)
        XCTAssertEqual(pair.server.tlsSession?.peerCertificateCommonName, "app")
        XCTAssertEqual(pair.server.tlsSession?.peerCertificateSubject, "CN=app")
    }

    // MARK: Channel binding

    func testChannelBindingHashIsServerCertificateSHA256OnBothSides() throws {
        let expected = try certs().sha256Fingerprint(try certs().serverCertificate)
        XCTAssertEqual(expected.count, 32)
        for maximum in [TLSVersion.v1_3, .v1_2] {
            let (pair, clientResult, serverResult) = try connect(server: try serverContext(),
                                                                 client: try clientContext(maximumVersion: maximum))
            XCTAssertEqual(clientResult, .complete)
            XCTAssertEqual(serverResult, .complete)
            XCTAssertEqual(pair.client.tlsSession?.serverCertificateHashForChannelBinding, expected)
            XCTAssertEqual(pair.server.tlsSession?.serverCertificateHashForChannelBinding, expected)
        }
    }

    // MARK: Data

    func testOneMegabyteEachWayRoundTripsWithBackpressure() throws {
        let (pair, clientResult, serverResult) = try connect(server: try serverContext(), client: try clientContext())
        XCTAssertEqual(clientResult, .complete)
        XCTAssertEqual(serverResult, .complete)
        let upstream = patternBytes(count: 1 << 20, seed: 0x5EED)
        let downstream = patternBytes(count: 1 << 20, seed: 0xBEEF)
        var sentUp = 0, sentDown = 0
        var receivedUp: [UInt8] = [], receivedDown: [UInt8] = []
        let serverBuffer = ByteBuffer(capacity: 4096), clientBuffer = ByteBuffer(capacity: 4096)
        var sawPendingWrites = false
        for _ in 0..<20_000 {
            if sentUp < upstream.count && !pair.client.hasPendingWrites {
                // All at once: far more than the socketpair holds, so most of it waits in `pending`.
                let n = upstream.count - sentUp
                XCTAssertTrue(upstream.withUnsafeBytes { pair.client.write($0.baseAddress! + sentUp, count: n) })
                sentUp += n
            }
            if sentDown < downstream.count && !pair.server.hasPendingWrites {
                let n = min(100_003, downstream.count - sentDown)
                XCTAssertTrue(downstream.withUnsafeBytes { pair.server.write($0.baseAddress! + sentDown, count: n) })
                sentDown += n
            }
            sawPendingWrites = sawPendingWrites || pair.client.hasPendingWrites || pair.server.hasPendingWrites
            XCTAssertTrue(pair.client.flushPending())
            XCTAssertTrue(pair.server.flushPending())
            XCTAssertEqual(SocketPairHarness.drain(pair.server, into: &receivedUp, buffer: serverBuffer), .wouldBlock)
            XCTAssertEqual(SocketPairHarness.drain(pair.client, into: &receivedDown, buffer: clientBuffer), .wouldBlock)
            XCTAssertFalse(pair.server.hasBufferedPlaintext)
            if receivedUp.count == upstream.count && receivedDown.count == downstream.count { break }
        }
        XCTAssertTrue(sawPendingWrites, "1 MB should overrun the socketpair and use pending")
        XCTAssertEqual(receivedUp.count, upstream.count)
        XCTAssertEqual(receivedDown.count, downstream.count)
        XCTAssertTrue(receivedUp == upstream, "client → server bytes differ")
        XCTAssertTrue(receivedDown == downstream, "server → client bytes differ")
        XCTAssertGreaterThan(pair.client.bytesWritten, UInt64(upstream.count))
    }

    func testBufferedPlaintextIsReportedUntilDrained() throws {
        let (pair, clientResult, serverResult) = try connect(server: try serverContext(), client: try clientContext())
        XCTAssertEqual(clientResult, .complete)
        XCTAssertEqual(serverResult, .complete)
        let message = patternBytes(count: 1000, seed: 7)
        for _ in 0..<5 { XCTAssertTrue(pair.client.write(message)) }
        let small = ByteBuffer(capacity: 16)
        XCTAssertEqual(pair.server.read(into: small, chunk: 16), .bytes(16))
        XCTAssertTrue(pair.server.hasBufferedPlaintext, "four and a half records are already out of the kernel")
        var received = small.bytes(at: 0, count: 16)
        small.clear()
        var reads = 0
        while pair.server.hasBufferedPlaintext && reads < 1000 {
            reads += 1
            if case .bytes = pair.server.read(into: small, chunk: 16) {
                received += small.bytes(at: 0, count: small.readableBytes)
                small.clear()
            }
        }
        XCTAssertEqual(received.count, 5000)
        XCTAssertEqual(received, Array([[UInt8]](repeating: message, count: 5).joined()))
        XCTAssertEqual(pair.server.read(into: small, chunk: 16), .wouldBlock)
        XCTAssertFalse(pair.server.hasBufferedPlaintext)
    }

    func testApplicationDataArrivingWithTheClientFinishedIsBuffered() throws {
        let pair = try SocketPairHarness()
        pair.client.startTLS(try TLSSession(context: try clientContext(), role: .client(serverName: "localhost")))
        pair.server.startTLS(try TLSSession(context: try serverContext(), role: .server))
        XCTAssertEqual(pair.client.continueHandshake(), .needsIO)   // ClientHello
        XCTAssertEqual(pair.server.continueHandshake(), .needsIO)   // ServerHello … Finished
        XCTAssertEqual(pair.client.continueHandshake(), .complete)  // client Finished
        XCTAssertTrue(pair.client.write(Array("startup".utf8)))     // right behind it
        XCTAssertEqual(pair.server.continueHandshake(), .complete)
        XCTAssertTrue(pair.server.hasBufferedPlaintext, "the record came out of the kernel with the Finished")
        let buffer = ByteBuffer(capacity: 64)
        XCTAssertEqual(pair.server.read(into: buffer, chunk: 64), .bytes(7))
        XCTAssertEqual(buffer.bytes(at: 0, count: 7), Array("startup".utf8))
        XCTAssertFalse(pair.server.hasBufferedPlaintext)
    }

    func testCloseNotifyBehindDataIsReportedOnTheNextRead() throws {
        let (pair, _, _) = try connect(server: try serverContext(), client: try clientContext())
        XCTAssertTrue(pair.client.write(Array("bye".utf8)))
        XCTAssertTrue(pair.client.shutdownTLS())
        let buffer = ByteBuffer(capacity: 64)
        XCTAssertEqual(pair.server.read(into: buffer, chunk: 64), .bytes(3))
        XCTAssertTrue(pair.server.hasBufferedPlaintext, "close_notify is already out of the kernel")
        XCTAssertEqual(pair.server.read(into: buffer, chunk: 64), .endOfFile)
        XCTAssertFalse(pair.server.hasBufferedPlaintext)
    }

    func testCloseNotifyGivesEndOfFileAfterTheData() throws {
        let (pair, _, _) = try connect(server: try serverContext(), client: try clientContext())
        XCTAssertTrue(pair.client.write(Array("Terminate".utf8)))
        XCTAssertTrue(pair.client.shutdownTLS())
        var received: [UInt8] = []
        let outcome = SocketPairHarness.drain(pair.server, into: &received, buffer: ByteBuffer(capacity: 64))
        XCTAssertEqual(String(decoding: received, as: UTF8.self), "Terminate")
        XCTAssertEqual(outcome, .endOfFile)
        XCTAssertTrue(pair.server.tlsSession?.peerClosed ?? false)
        XCTAssertNil(pair.server.lastTLSError)
    }

    func testCloseSendsCloseNotify() throws {
        let (pair, _, _) = try connect(server: try serverContext(), client: try clientContext())
        pair.server.close()
        var received: [UInt8] = []
        XCTAssertEqual(SocketPairHarness.drain(pair.client, into: &received, buffer: ByteBuffer(capacity: 64)), .endOfFile)
        XCTAssertTrue(pair.client.tlsSession?.peerClosed ?? false)
    }

    func testDirectTLSWithClientHelloAlreadyReceived() throws {
        let pair = try SocketPairHarness()
        pair.client.startTLS(try TLSSession(context: try clientContext(.verifyFull), role: .client(serverName: "localhost")))
        XCTAssertEqual(pair.client.continueHandshake(), .needsIO)
        // The server peeked at the first bytes in plaintext (as a listener does to tell direct TLS apart).
        let peeked = ByteBuffer(capacity: 4096)
        guard case .bytes = pair.server.read(into: peeked, chunk: 4096) else { return XCTFail("no ClientHello") }
        XCTAssertEqual(peeked.byte(at: 0), 0x16, "a TLS handshake record")
        pair.server.startTLS(try TLSSession(context: try serverContext(), role: .server),
                             alreadyReceived: UnsafeRawBufferPointer(start: peeked.readPointer, count: peeked.readableBytes))
        let (clientResult, serverResult) = pair.handshake()
        XCTAssertEqual(clientResult, .complete)
        XCTAssertEqual(serverResult, .complete)
        XCTAssertEqual(pair.server.tlsSession?.alpn, "postgresql")
        XCTAssertTrue(pair.client.write(Array("hello".utf8)))
        var received: [UInt8] = []
        SocketPairHarness.drain(pair.server, into: &received, buffer: ByteBuffer(capacity: 64))
        XCTAssertEqual(received, Array("hello".utf8))
    }

    func testGarbageInsteadOfClientHelloFailsTheHandshake() throws {
        let pair = try SocketPairHarness()
        XCTAssertTrue(pair.client.write(Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)))
        pair.server.startTLS(try TLSSession(context: try serverContext(), role: .server))
        let text = try XCTUnwrap(failureText(pair.server.continueHandshake()))
        XCTAssertFalse(text.isEmpty)
        XCTAssertNotNil(pair.server.lastTLSError)

        let second = try SocketPairHarness()
        let garbage = patternBytes(count: 300, seed: 99)
        second.server.startTLS(try TLSSession(context: try serverContext(), role: .server),
                               alreadyReceived: garbage.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[...]) })
        XCTAssertNotNil(failureText(second.server.continueHandshake()))
    }

    func testPeerClosingDuringHandshakeFails() throws {
        let pair = try SocketPairHarness()
        pair.server.startTLS(try TLSSession(context: try serverContext(), role: .server))
        XCTAssertEqual(pair.server.continueHandshake(), .needsIO)
        pair.client.close()
        let text = try XCTUnwrap(failureText(pair.server.continueHandshake()))
        XCTAssertTrue(text.contains("closed"), text)
    }

    func testWriteBeforeHandshakeFails() throws {
        let pair = try SocketPairHarness()
        pair.client.startTLS(try TLSSession(context: try clientContext(), role: .client(serverName: "localhost")))
        XCTAssertFalse(pair.client.write(Array("early".utf8)))
        XCTAssertNotNil(pair.client.lastTLSError)
    }

    // MARK: Sessions without a socket

    func testSessionsExchangeCiphertextThroughBuffers() throws {
        let client = try TLSSession(context: try clientContext(.verifyFull), role: .client(serverName: "localhost"))
        let server = try TLSSession(context: try serverContext(), role: .server)
        let wire = ByteBuffer(capacity: 1024)
        var clientDone = false, serverDone = false
        for _ in 0..<20 where !(clientDone && serverDone) {
            if !clientDone, case .complete = client.handshake() { clientDone = true }
            _ = client.takeCiphertext(into: wire)
            server.receiveCiphertext(wire.readPointer, count: wire.readableBytes)
            wire.clear()
            if !serverDone, case .complete = server.handshake() { serverDone = true }
            _ = server.takeCiphertext(into: wire)
            client.receiveCiphertext(wire.readPointer, count: wire.readableBytes)
            wire.clear()
        }
        XCTAssertTrue(clientDone && serverDone)
        let payload = patternBytes(count: 50_000, seed: 3)
        var offset = 0
        while offset < payload.count {
            let n = try payload.withUnsafeBytes { try client.writePlaintext($0.baseAddress! + offset, count: payload.count - offset).get() }
            offset += n
            _ = client.takeCiphertext(into: wire)
        }
        server.receiveCiphertext(wire.readPointer, count: wire.readableBytes)
        let plain = ByteBuffer(capacity: 1024)
        while case .bytes = server.readPlaintext(into: plain, max: 8192) {}
        XCTAssertEqual(plain.bytes(at: 0, count: plain.readableBytes), payload)
    }

    // MARK: Configuration errors

    func testMissingCertificateFileIsAConfigurationErrorNamingThePath() throws {
        let c = try certs()
        XCTAssertThrowsError(try TLSContext.server(certificateFile: "/nonexistent/server.crt", keyFile: c.serverKey,
                                                   caFile: nil, clientVerification: .none)) { error in
            guard case TLSError.configuration(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("/nonexistent/server.crt"), message)
            XCTAssertTrue(message.contains("No such file or directory"), message)
            XCTAssertFalse(message.contains("system lib"), message)
        }
    }

    func testMissingKeyFileIsAConfigurationErrorNamingThePath() throws {
        let c = try certs()
        XCTAssertThrowsError(try TLSContext.server(certificateFile: c.serverCertificate, keyFile: "/nonexistent/server.key",
                                                   caFile: nil, clientVerification: .none)) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/server.key"), "\(error)")
        }
    }

    func testMismatchedKeyIsAConfigurationError() throws {
        let c = try certs()
        XCTAssertThrowsError(try TLSContext.server(certificateFile: c.serverCertificate, keyFile: c.clientKey,
                                                   caFile: nil, clientVerification: .none)) { error in
            XCTAssertTrue("\(error)".contains("does not match"), "\(error)")
            XCTAssertTrue("\(error)".contains("key values mismatch"), "\(error)")
        }
    }

    func testMissingCAFilesAreConfigurationErrors() throws {
        let c = try certs()
        XCTAssertThrowsError(try TLSContext.server(certificateFile: c.serverCertificate, keyFile: c.serverKey,
                                                   caFile: "/nonexistent/ca.crt", clientVerification: .verifyCA)) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/ca.crt"), "\(error)")
        }
        XCTAssertThrowsError(try TLSContext.client(verification: .verifyFull, rootCertificates: .file("/nonexistent/root.crt"),
                                                   certificateFile: nil, keyFile: nil)) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/root.crt"), "\(error)")
        }
        XCTAssertThrowsError(try TLSContext.client(verification: .verifyCA, rootCertificates: .none,
                                                   certificateFile: nil, keyFile: nil))
    }

    func testSessionRoleMustMatchContext() throws {
        XCTAssertThrowsError(try TLSSession(context: try serverContext(), role: .client(serverName: nil)))
        XCTAssertThrowsError(try TLSSession(context: try clientContext(.verifyFull), role: .client(serverName: nil)))
    }
}
