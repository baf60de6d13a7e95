// ValueDecoder: typed readers for raw config values (integers, seconds, words, addresses, URLs).

/// Reads one typed value out of a raw one, with the type and range checks its key needs.
struct ValueDecoder<Value: Sendable>: Sendable {
    let decode: @Sendable (ConfigValue, ValueSource) throws(ValueProblem) -> Value
    /// Whether an empty string in the file means "not set" for an optional key (`admin_listen = ""`).
    /// An empty environment variable always unsets an optional key.
    var emptyStringMeansUnset = false

    /// Like `decode`, but an empty string may mean nil (see `emptyStringMeansUnset`).
    func decodeOptional(_ value: ConfigValue, _ source: ValueSource) throws(ValueProblem) -> Value? {
        if case .string(let text) = value, text.trimmingSpaces.isEmpty,
           source == .environment || emptyStringMeansUnset {
            return nil
        }
        return try decode(value, source)
    }
}

/// Inclusive limits of a number, with the message used when a value falls outside them.
struct Bounds<Number: Comparable & Sendable>: Sendable {
    var lower: Number
    var upper: Number?

    func check(_ value: Number, format: (Number) -> String) throws(ValueProblem) {
        if let upper, !(lower...upper).contains(value) {
            throw ValueProblem("must be between \(format(lower)) and \(format(upper)), got \(format(value))")
        }
        if upper == nil, value < lower {
            throw ValueProblem("must be at least \(format(lower)), got \(format(value))")
        }
    }
}

extension ValueDecoder where Value == Int {
    /// An integer within `range`; environment strings are parsed as decimal integers.
    static func integer(_ range: ClosedRange<Int>) -> Self {
        integer(Bounds(lower: range.lowerBound, upper: range.upperBound))
    }

    /// An integer of at least `lower`.
    static func integer(atLeast lower: Int) -> Self {
        integer(Bounds(lower: lower, upper: nil))
    }

    private static func integer(_ bounds: Bounds<Int>) -> Self {
        Self { (value, source) throws(ValueProblem) in
            let number: Int
            switch value {
            case .integer(let n):
                number = n
            case .string(let text) where source == .environment:
                guard let n = Int(text.trimmingSpaces) else {
                    throw ValueProblem("expected an integer, got \(quoted(text))")
                }
                number = n
            default:
                throw ValueProblem("expected an integer, got \(value.typeName)")
            }
            try bounds.check(number) { String($0) }
            return number
        }
    }
}

extension ValueDecoder where Value == Double {
    /// A duration in seconds within `range`: a TOML integer or float, or a decimal string in the environment.
    static func seconds(_ range: ClosedRange<Double>) -> Self {
        let bounds = Bounds(lower: range.lowerBound, upper: range.upperBound)
        return Self { (value, source) throws(ValueProblem) in
            let seconds: Double
            switch value {
            case .integer(let n):
                seconds = Double(n)
            case .float(let x):
                seconds = x
            case .string(let text) where source == .environment:
                guard let x = Double(text.trimmingSpaces) else {
                    throw ValueProblem("expected a number of seconds, got \(quoted(text))")
                }
                seconds = x
            default:
                throw ValueProblem("expected a number of seconds, got \(value.typeName)")
            }
            guard seconds.isFinite else { throw ValueProblem("expected a finite number of seconds") }
            try bounds.check(seconds, format: formatNumber)
            return seconds
        }
    }
}

extension ValueDecoder where Value == String {
    /// Any string, taken as it is.
    static var text: Self {
        Self { (value, _) throws(ValueProblem) in try string(value) }
    }
}

extension ValueDecoder where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// One of the enumeration's raw values, compared case-insensitively.
    static var choice: Self {
        Self { (value, _) throws(ValueProblem) in
            let text = try string(value)
            let word = text.trimmingSpaces.lowercased()
            if let choice = Value.allCases.first(where: { $0.rawValue == word }) { return choice }
            let names = Value.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValueProblem("must be one of \(names), got \(quoted(text))")
        }
    }
}

extension ValueDecoder where Value == [ListenAddress] {
    /// One or more `host:port` addresses: a string (commas allowed) or an array of strings.
    static var listenAddresses: Self {
        Self { (value, _) throws(ValueProblem) in
            let items: [String]
            switch value {
            case .string(let text):
                items = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            case .array(let elements):
                items = try elements.map { (element) throws(ValueProblem) in
                    guard case .string(let text) = element else {
                        throw ValueProblem("expected a string or an array of strings, got an array holding \(element.typeName)")
                    }
                    return text
                }
            default:
                throw ValueProblem("expected a string or an array of strings, got \(value.typeName)")
            }
            var addresses: [ListenAddress] = []
            for item in items {
                for address in try ListenAddress.parse(item) {
                    guard !addresses.contains(address) else {
                        throw ValueProblem("address \(address) is listed twice")
                    }
                    addresses.append(address)
                }
            }
            guard !addresses.isEmpty else { throw ValueProblem("at least one address is required") }
            return addresses
        }
    }
}

extension ValueDecoder where Value == ListenAddress {
    /// Exactly one `host:port` address; `""` unsets an optional key.
    static var listenAddress: Self {
        var decoder = Self { (value, _) throws(ValueProblem) in
            let text = try string(value)
            let addresses = try ListenAddress.parse(text)
            guard addresses.count == 1 else {
                let meaning = addresses.map(\.description).joined(separator: " and ")
                throw ValueProblem(
                    "expected one address, but \(quoted(text.trimmingSpaces)) means \(addresses.count) (\(meaning)); write one of them")
            }
            return addresses[0]
        }
        decoder.emptyStringMeansUnset = true
        return decoder
    }
}

extension ValueDecoder where Value == UpstreamURL {
    /// A `postgres://` or `postgresql://` URL. Reasons never repeat the password.
    static var upstreamURL: Self {
        Self { (value, _) throws(ValueProblem) in
            let text = try string(value)
            do throws(UpstreamURLError) {
                return try UpstreamURL.parse(text)
            } catch {
                throw ValueProblem(error.reason)
            }
        }
    }
}

/// The string in `value`, or the "expected a string" problem.
func string(_ value: ConfigValue) throws(ValueProblem) -> String {
    guard case .string(let text) = value else {
        throw ValueProblem("expected a string, got \(value.typeName)")
    }
    return text
}

/// `text` in double quotes, for messages.
func quoted(_ text: String) -> String {
    "\"\(text)\""
}

/// `60` rather than `60.0`; `0.5` stays `0.5`.
func formatNumber(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
    return String(x)
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }),
              let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
