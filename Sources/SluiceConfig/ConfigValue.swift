// ConfigValue: a raw value from the TOML file or the environment, before it is typed.

import TOMLKit

/// One untyped value. The TOML document is turned into these right after parsing, so nothing
/// past the reader depends on TOMLKit; environment variables arrive as `.string`.
indirect enum ConfigValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([ConfigValue])
    /// Entries in key order.
    case table([Entry])
    /// A TOML date, time or date-time; no key accepts one, so only its type name is kept.
    case other(typeName: String)

    struct Entry: Sendable, Equatable {
        var key: String
        var value: ConfigValue
    }

    /// The value's type as error messages name it ("expected an integer, got string").
    var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .boolean: "boolean"
        case .array: "array"
        case .table: "table"
        case .other(let typeName): typeName
        }
    }
}

extension ConfigValue {
    /// Parses a TOML document into a `.table`, or returns TOMLKit's message with its position.
    static func parse(toml: String) -> Result<[Entry], SyntaxError> {
        do {
            let table = try TOMLTable(string: toml)
            return .success(entries(of: table))
        } catch let error as TOMLParseError {
            return .failure(SyntaxError(message: "\(error.description) (\(error.source))"))
        } catch {
            return .failure(SyntaxError(message: "\(error)"))
        }
    }

    struct SyntaxError: Error {
        var message: String
    }

    private static func entries(of table: TOMLTable) -> [Entry] {
        table.keys.sorted().compactMap { key in
            table[key].map { Entry(key: key, value: ConfigValue(toml: $0)) }
        }
    }

    private init(toml value: TOMLValueConvertible) {
        switch value.type {
        case .string: self = .string(value.string ?? "")
        case .int: self = .integer(value.int ?? 0)
        case .double: self = .float(value.double ?? 0)
        case .bool: self = .boolean(value.bool ?? false)
        case .array: self = .array(value.array.map { $0.map(ConfigValue.init(toml:)) } ?? [])
        case .table: self = .table(value.table.map(Self.entries(of:)) ?? [])
        case .date: self = .other(typeName: "date")
        case .time: self = .other(typeName: "time")
        case .dateTime: self = .other(typeName: "date-time")
        }
    }
}
