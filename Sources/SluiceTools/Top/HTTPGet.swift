// HTTPGet: a small blocking HTTP/1.1 GET for Sluice's own `/metrics` page (plain HTTP, bounded size and time).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `http://host:port/path` only (the admin endpoint has no TLS). The whole exchange is bounded by
/// `timeout` and the answer by `maxBytes`; anything else is a `ProbeFailure` with a readable reason.
public enum HTTPGet {
    public struct Address: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var path: String
    }

    /// Splits `http://host[:port][/path]` (IPv6 hosts in brackets); nil for anything else.
    public static func parse(_ url: String) -> Address? {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let path = slash < rest.endIndex ? String(rest[slash...]) : "/"
        var host = Substring(authority), port = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { guard let value = Int(after.dropFirst()) else { return nil }; port = value }
            else if !after.isEmpty { return nil }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let value = Int(authority[authority.index(after: colon)...]) else { return nil }
            port = value
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        return Address(host: String(host), port: port, path: path)
    }

    /// The body of a `200` answer.
    static func get(_ url: String, timeout: Double = 2, maxBytes: Int = 8 << 20) -> Result<String, ProbeFailure> {
        guard let address = parse(url) else { return .failure(ProbeFailure("not an http://host:port/path URL: \(url)")) }
        let deadline = Date().addingTimeInterval(timeout)
        let resolved: [DoctorProbe.Address]
        switch DoctorProbe.resolve(host: address.host, port: address.port, timeout: timeout) {
        case .success(let list): resolved = list
        case .failure(let failure): return .failure(failure)
        }
        var lastFailure = ProbeFailure("no addresses")
        for candidate in resolved {
            let fd = socket(candidate.family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            switch exchange(fd: fd, address: candidate, request: request(address), deadline: deadline, maxBytes: maxBytes) {
            case .success(let answer): return parseAnswer(answer)
            case .failure(let failure): lastFailure = failure
            }
        }
        return .failure(lastFailure)
    }

    static func request(_ address: Address) -> [UInt8] {
        let host = address.host.contains(":") ? "[\(address.host)]" : address.host
        return Array("GET \(address.path) HTTP/1.1\r\nHost: \(host):\(address.port)\r\nConnection: close\r\nAccept: text/plain\r\n\r\n".utf8)
    }

    private static func remainingMilliseconds(_ deadline: Date) -> Int32 {
        Int32(max(0, min(60_000, deadline.timeIntervalSinceNow * 1000)))
    }

    private static func exchange(fd: Int32, address: DoctorProbe.Address, request: [UInt8], deadline: Date,
                                 maxBytes: Int) -> Result<[UInt8], ProbeFailure> {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let status = address.bytes.withUnsafeBytes { raw in
            Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if status != 0 {
            guard errno == EINPROGRESS else { return .failure(ProbeFailure("connect to \(address.text): \(String(cString: strerror(errno)))")) }
            var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&descriptor, 1, remainingMilliseconds(deadline)) == 1 else { return .failure(ProbeFailure("connect timed out")) }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else { return .failure(ProbeFailure("connect to \(address.text): \(String(cString: strerror(error)))")) }
        }
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written > 0 { sent += written; continue }
            guard written < 0, errno == EAGAIN || errno == EINTR else { return .failure(ProbeFailure("send failed")) }
            var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&descriptor, 1, remainingMilliseconds(deadline)) == 1 else { return .failure(ProbeFailure("send timed out")) }
        }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return .success(answer) }
            if count > 0 {
                answer += chunk[..<count]
                guard answer.count <= maxBytes else { return .failure(ProbeFailure("answer larger than \(maxBytes) bytes")) }
                if let complete = completeLength(answer), answer.count >= complete { return .success(answer) }
                continue
            }
            guard errno == EAGAIN || errno == EINTR else { return .failure(ProbeFailure("read failed: \(String(cString: strerror(errno)))")) }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, remainingMilliseconds(deadline)) == 1 else { return .failure(ProbeFailure("read timed out")) }
        }
    }

    /// Header length plus Content-Length, once the headers have arrived and name a length.
    private static func completeLength(_ bytes: [UInt8]) -> Int? {
        guard let end = headerEnd(bytes) else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
            if let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) {
                return end + 4 + length
            }
        }
        return nil
    }

    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    static func parseAnswer(_ bytes: [UInt8]) -> Result<String, ProbeFailure> {
        guard let end = headerEnd(bytes) else { return .failure(ProbeFailure("no HTTP answer")) }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n").first.map(String.init) ?? ""
        let words = statusLine.split(separator: " ")
        guard words.count >= 2, words[0].hasPrefix("HTTP/") else { return .failure(ProbeFailure("not an HTTP answer")) }
        guard words[1] == "200" else { return .failure(ProbeFailure("HTTP \(words.dropFirst().joined(separator: " "))")) }
        if head.lowercased().contains("transfer-encoding: chunked") {
            return .failure(ProbeFailure("chunked answers are not supported"))
        }
        return .success(String(decoding: bytes[(end + 4)...], as: UTF8.self))
    }
}
