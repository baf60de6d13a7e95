// SocketAddress: IPv4/IPv6 addresses for listening, connecting and logging.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// An IPv4 or IPv6 socket address.
public struct SocketAddress: Sendable, CustomStringConvertible {
    public var storage: sockaddr_storage
    public var length: socklen_t

    public init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// Parses a numeric host (IPv4 or IPv6) and port.
    public init?(numericHost host: String, port: Int) {
        var s = sockaddr_storage()
        var h = host
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        var a4 = in_addr()
        var a6 = in6_addr()
        if inet_pton(AF_INET, h, &a4) == 1 {
            withUnsafeMutablePointer(to: &s) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                    p.pointee.sin_family = sa_family_t(AF_INET)
                    p.pointee.sin_port = in_port_t(UInt16(port).bigEndian)
                    p.pointee.sin_addr = a4
                }
            }
            self.init(storage: s, length: socklen_t(MemoryLayout<sockaddr_in>.size))
        } else if inet_pton(AF_INET6, h, &a6) == 1 {
            withUnsafeMutablePointer(to: &s) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    p.pointee.sin6_family = sa_family_t(AF_INET6)
                    p.pointee.sin6_port = in_port_t(UInt16(port).bigEndian)
                    p.pointee.sin6_addr = a6
                }
            }
            self.init(storage: s, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
        } else {
            return nil
        }
    }

    public var family: Int32 { Int32(storage.ss_family) }

    /// The numeric host ("127.0.0.1", "::1").
    public var host: String {
        var copy = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafePointer(to: &copy) { p -> String in
            if family == AF_INET {
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var a = sin.pointee.sin_addr
                    inet_ntop(AF_INET, &a, &buffer, socklen_t(buffer.count))
                    return String(cString: buffer)
                }
            } else if family == AF_INET6 {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin in
                    var a = sin.pointee.sin6_addr
                    inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count))
                    return String(cString: buffer)
                }
            }
            return "unix"
        }
    }

    public var port: Int {
        var copy = storage
        return withUnsafePointer(to: &copy) { p -> Int in
            if family == AF_INET {
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            } else if family == AF_INET6 {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return 0
        }
    }

    public var description: String { family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Resolves `host` (numeric or a name) off the loop; returns every address found.
    public static func resolve(host: String, port: Int) throws -> [SocketAddress] {
        if let numeric = SocketAddress(numericHost: host, port: port) { return [numeric] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw IOError.resolve("could not translate host name \"\(host)\" to address: \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(first) }
        var out: [SocketAddress] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            var s = sockaddr_storage()
            memcpy(&s, n.pointee.ai_addr, Int(n.pointee.ai_addrlen))
            out.append(SocketAddress(storage: s, length: n.pointee.ai_addrlen))
            node = n.pointee.ai_next
        }
        return out
    }
}
