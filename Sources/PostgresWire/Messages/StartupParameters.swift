// StartupParameters: the ordered name/value pairs of a StartupMessage (user, database, options…).

/// Ordered startup parameters; lookup by name returns the first match.
public struct StartupParameters: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public var pairs: [(name: String, value: String)]

    public init() {
        pairs = []
    }

    public init(_ pairs: [(String, String)]) {
        self.pairs = pairs.map { (name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The value of the first parameter called `name`; setting replaces it in place or appends,
    /// setting nil removes every parameter called `name`.
    public subscript(name: String) -> String? {
        get { pairs.first { $0.name == name }?.value }
        set {
            guard let newValue else {
                pairs.removeAll { $0.name == name }
                return
            }
            if let index = pairs.firstIndex(where: { $0.name == name }) {
                pairs[index].value = newValue
            } else {
                pairs.append((name, newValue))
            }
        }
    }

    public var count: Int { pairs.count }
    public var isEmpty: Bool { pairs.isEmpty }

    public static func == (lhs: StartupParameters, rhs: StartupParameters) -> Bool {
        lhs.pairs.count == rhs.pairs.count && zip(lhs.pairs, rhs.pairs).allSatisfy { $0 == $1 }
    }
}
