// Exposition: parses Prometheus text exposition into samples for assertions.
import XCTest

/// The samples of one exposition, by `name{labels}` exactly as written, plus the `# TYPE` lines.
struct Exposition {
    var samples: [String: Double] = [:]
    var types: [String: String] = [:]
    var help: [String: String] = [:]

    init(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        for rawLine in text.split(separator: "\n") {
            let textLine = String(rawLine)
            if textLine.hasPrefix("# TYPE ") {
                let parts = textLine.dropFirst("# TYPE ".count).split(separator: " ")
                types[String(parts[0])] = String(parts[1])
                continue
            }
            if textLine.hasPrefix("# HELP ") {
                let rest = textLine.dropFirst("# HELP ".count)
                let space = rest.firstIndex(of: " ") ?? rest.endIndex
                help[String(rest[..<space])] = String(rest[space...].dropFirst())
                continue
            }
            guard let space = textLine.lastIndex(of: " "), let value = Double(textLine[textLine.index(after: space)...]) else {
                XCTFail("unparsable line: \(textLine)", file: file, line: line)
                continue
            }
            let key = String(textLine[..<space])
            XCTAssertNil(samples[key], "duplicate sample \(key)", file: file, line: line)
            samples[key] = value
        }
    }

    subscript(_ key: String) -> Double? { samples[key] }

    /// Samples of metric `name` (any labels).
    func family(_ name: String) -> [String: Double] {
        samples.filter { $0.key == name || $0.key.hasPrefix(name + "{") }
    }
}
