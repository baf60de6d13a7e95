// DoctorProbe: the network checks of `sluice doctor` — resolve, TCP connect, libpq login, round trips.
import CLibpq
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Blocking probes, each bounded by a timeout. Used one database at a time.
enum DoctorProbe {
    /// Milliseconds since `start`.
    static func elapsedMilliseconds(since start: ContinuousClock.Instant) -> Double {
        let duration = ContinuousClock.now - start
        return Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// One resolved address: its family, the sockaddr bytes and its numeric text.
    struct Address {
        var family: Int32
        var bytes: [UInt8]
        var text: String
    }

    /// getaddrinfo on a helper thread, given up after `timeout` seconds.
    static func resolve(host: String, port: Int, timeout: Double) -> Result<[Address], ProbeFailure> {
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            box.result = resolveNow(host: host, port: port)
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout) == .success else {
            return .failure(ProbeFailure("name resolution timed out"))
        }
        return box.result ?? .failure(ProbeFailure("name resolution failed"))
    }

    private final class ResultBox: @unchecked Sendable {
        var result: Result<[Address], ProbeFailure>?
    }

    private static func resolveNow(host: String, port: Int) -> Result<[Address], ProbeFailure> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else { return .failure(ProbeFailure(String(cString: gai_strerror(status)))) }
        defer { freeaddrinfo(list) }
        var addresses: [Address] = []
        var cursor = list
        while let entry = cursor {
            let info = entry.pointee
            if let socketAddress = info.ai_addr {
                let bytes = [UInt8](UnsafeRawBufferPointer(start: socketAddress, count: Int(info.ai_addrlen)))
                var name = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                getnameinfo(socketAddress, info.ai_addrlen, &name, socklen_t(name.count), nil, 0, NI_NUMERICHOST)
                let text = String(cString: name)
                if !addresses.contains(where: { $0.text == text }) {
                    addresses.append(Address(family: info.ai_family, bytes: bytes, text: text))
                }
            }
            cursor = info.ai_next
        }
        return addresses.isEmpty ? .failure(ProbeFailure("no addresses")) : .success(addresses)
    }

    /// Non-blocking connect to each address in turn until one answers; the address that did, or the last error.
    static func connect(_ addresses: [Address], timeout: Double) -> Result<Address, ProbeFailure> {
        var failure = ProbeFailure("no addresses")
        for address in addresses {
            let fd = socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { failure = ProbeFailure(String(cString: strerror(errno))); continue }
            defer { close(fd) }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            let status = address.bytes.withUnsafeBytes { raw in
                Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
            if status == 0 { return .success(address) }
            guard errno == EINPROGRESS else { failure = ProbeFailure(String(cString: strerror(errno))); continue }
            var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&descriptor, 1, Int32(max(1, timeout * 1000)))
            if ready == 0 { failure = ProbeFailure("connection timed out"); continue }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error == 0 { return .success(address) }
            failure = ProbeFailure(String(cString: strerror(error)))
        }
        return .failure(failure)
    }

    /// libpq's keywords (from PQconndefaults), so unknown URL parameters are not passed to it.
    static let libpqKeywords: Set<String> = {
        var names: Set<String> = []
        guard let options = PQconndefaults() else { return names }
        defer { PQconninfoFree(options) }
        var cursor = options
        while let keyword = cursor.pointee.keyword {
            names.insert(String(cString: keyword))
            cursor += 1
        }
        return names
    }()

    /// The operating system's CA bundle, for `sslrootcert=system` on libpq older than 16.
    static func systemCABundle() -> String? {
        if let file = ProcessInfo.processInfo.environment["SSL_CERT_FILE"], FileManager.default.fileExists(atPath: file) {
            return file
        }
        return ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem",
                "/usr/lib/ssl/cert.pem"].first { FileManager.default.fileExists(atPath: $0) }
    }
}

/// A probe's failure text (strerror, gai_strerror, libpq's message).
struct ProbeFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
