// TLSTestSupport: throwaway certificates (made with the openssl CLI) and a socketpair TLS harness.
import Foundation
import XCTest
@testable import SluiceIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Certificates written once per test run into a temporary directory.
final class TLSTestCertificates {
    let directory: String
    var caCertificate: String { path("ca.crt") }
    var serverCertificate: String { path("server.crt") }
    var serverKey: String { path("server.key") }
    var otherCACertificate: String { path("other-ca.crt") }
    var expiredCertificate: String { path("expired.crt") }
    var expiredKey: String { path("expired.key") }
    var clientCertificate: String { path("client.crt") }
    var clientKey: String { path("client.key") }

    init() throws {
        directory = NSTemporaryDirectory() + "sluice-tls-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + ["-keyout", path("ca.key"), "-out", caCertificate, "-days", "2",
                     "-subj", "/CN=Sluice Test CA"])
        try openssl(["req", "-x509"] + ec + ["-keyout", path("other-ca.key"), "-out", otherCACertificate, "-days", "2",
                     "-subj", "/CN=Unrelated Test CA"])
        try write("server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                  + "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
        try write("client.ext", "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
        try issue(name: "server", subject: "/CN=localhost/O=Sluice Tests", extensions: "server.ext", days: "2", serial: "2")
        try issue(name: "client", subject: "/CN=app", extensions: "client.ext", days: "2", serial: "3")
        // notAfter a day before now: expired by the time anyone checks.
        try issue(name: "expired", subject: "/CN=localhost", extensions: "server.ext", days: "-1", serial: "4")
    }

    func path(_ name: String) -> String { directory + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// SHA-256 fingerprint of a certificate, as `openssl x509 -fingerprint -sha256` prints it.
    func sha256Fingerprint(_ certificate: String) throws -> [UInt8] {
        let output = try openssl(["x509", "-noout", "-fingerprint", "-sha256", "-in", certificate])
        guard let equals = output.firstIndex(of: "=") else { throw TestFailure("no fingerprint in \(output)") }
        let hex = output[output.index(after: equals)...].trimmingCharacters(in: .whitespacesAndNewlines)
        return try hex.split(separator: ":").map {
            guard let byte = UInt8($0, radix: 16) else { throw TestFailure("bad fingerprint \(hex)") }
            return byte
        }
    }

    private func issue(name: String, subject: String, extensions: String, days: String, serial: String) throws {
        try openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", subject])
        try openssl(["x509", "-req", "-in", path("\(name).csr"), "-CA", caCertificate, "-CAkey", path("ca.key"),
                     "-set_serial", serial, "-days", days, "-sha256", "-extfile", path(extensions),
                     "-out", path("\(name).crt")])
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    @discardableResult
    private func openssl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("openssl \(arguments.prefix(2).joined(separator: " ")) exited \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Two TCPSockets over a non-blocking AF_UNIX socketpair, driven by hand.
final class SocketPairHarness {
    let client: TCPSocket
    let server: TCPSocket

    init() throws {
        var fds: [Int32] = [0, 0]
        #if canImport(Glibc)
        let type = Int32(SOCK_STREAM.rawValue)
        #else
        let type = SOCK_STREAM
        #endif
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else { throw TestFailure("socketpair failed: \(errno)") }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        client = TCPSocket(fd: fds[0])
        server = TCPSocket(fd: fds[1])
    }

    deinit {
        client.close()
        server.close()
    }

    /// Runs both handshakes until neither needs I/O (or `rounds` pass). A side that already
    /// finished is not called again; after one side fails the other gets a few more rounds to
    /// read the alert.
    func handshake(rounds: Int = 200) -> (client: TLSHandshakeResult, server: TLSHandshakeResult) {
        var clientResult = TLSHandshakeResult.needsIO
        var serverResult = TLSHandshakeResult.needsIO
        var roundsAfterFailure = 0
        for _ in 0..<rounds {
            if clientResult == .needsIO { clientResult = client.continueHandshake() }
            if serverResult == .needsIO { serverResult = server.continueHandshake() }
            _ = client.flushPending()
            _ = server.flushPending()
            if clientResult != .needsIO && serverResult != .needsIO { break }
            if case .failed = clientResult { roundsAfterFailure += 1 }
            if case .failed = serverResult { roundsAfterFailure += 1 }
            if roundsAfterFailure > 5 { break }
        }
        return (clientResult, serverResult)
    }

    /// Reads everything `socket` can give now, following `hasBufferedPlaintext`; returns the
    /// last non-data outcome.
    @discardableResult
    static func drain(_ socket: TCPSocket, into sink: inout [UInt8], buffer: ByteBuffer,
                      chunk: Int = 16 * 1024) -> ReadOutcome {
        while true {
            let outcome = socket.read(into: buffer, chunk: chunk)
            guard case .bytes = outcome else { return outcome }
            sink.append(contentsOf: UnsafeRawBufferPointer(start: buffer.readPointer, count: buffer.readableBytes))
            buffer.clear()
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
func patternBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    var bytes = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes[i] = UInt8(truncatingIfNeeded: state)
    }
    return bytes
}
