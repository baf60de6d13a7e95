// ValueDecoder+Lists: booleans, name lists and CIDR lists.

extension ValueDecoder where Value == Bool {
    /// `true`/`false`; environment strings `true|false|on|off|1|0|yes|no`.
    static var boolean: Self {
        Self { (value, source) throws(ValueProblem) in
            switch value {
            case .boolean(let b): return b
            case .string(let text) where source == .environment:
                switch text.trimmingSpaces.lowercased() {
                case "true", "on", "1", "yes": return true
                case "false", "off", "0", "no": return false
                default: throw ValueProblem("expected a boolean, got \(quoted(text))")
                }
            default:
                throw ValueProblem("expected a boolean, got \(value.typeName)")
            }
        }
    }
}

extension ValueDecoder where Value == [String] {
    /// An array of strings, or one comma-separated string (environment or file).
    static var nameList: Self {
        Self { (value, _) throws(ValueProblem) in
            switch value {
            case .string(let text):
                return text.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
            case .array(let elements):
                return try elements.map { (element) throws(ValueProblem) in
                    guard case .string(let text) = element else {
                        throw ValueProblem("expected an array of strings, got an array holding \(element.typeName)")
                    }
                    return text
                }
            default:
                throw ValueProblem("expected a string or an array of strings, got \(value.typeName)")
            }
        }
    }

    /// A list of CIDR blocks or addresses (`10.0.0.0/8`, `::1`, `127.0.0.1`).
    static var cidrList: Self {
        Self { (value, source) throws(ValueProblem) in
            let items = try nameList.decode(value, source)
            for item in items where CIDR(item) == nil {
                throw ValueProblem("\(quoted(item)) is not an IPv4 or IPv6 address or CIDR block")
            }
            return items
        }
    }
}

/// An IPv4 or IPv6 network: address bytes and prefix length.
public struct CIDR: Sendable, Equatable, Hashable {
    public var address: [UInt8]
    public var prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let first = parts.first, let bytes = CIDR.parseAddress(first) else { return nil }
        let maxLength = bytes.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...maxLength).contains(length) else { return nil }
            prefixLength = length
        } else {
            prefixLength = maxLength
        }
        address = bytes
    }

    /// True when `host` (numeric) lies in this network.
    public func contains(_ host: String) -> Bool {
        guard let bytes = CIDR.parseAddress(host), bytes.count == address.count else { return false }
        var remaining = prefixLength
        for i in 0..<bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xff : ~(0xff >> UInt8(bits))
            if bytes[i] & mask != address[i] & mask { return false }
            remaining -= bits
        }
        return true
    }

    static func parseAddress(_ text: String) -> [UInt8]? {
        if text.contains(":") { return parseIPv6(text) }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard let n = UInt8(part) else { return nil }
            bytes.append(n)
        }
        return bytes
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard let v = UInt16(g, radix: 16), g.count <= 4 else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}
