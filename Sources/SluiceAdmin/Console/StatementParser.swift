// StatementParser: splits a console query into statements and each statement into words.

/// One statement of a query: its trimmed text (for messages) and its words.
struct Statement: Equatable {
    var text: String
    /// Words split on whitespace; `"double quoted"` and `'single quoted'` words lose their quotes
    /// (a doubled quote inside stands for one) and keep their case, as PgBouncer's `copy_arg` does.
    var words: [String]
}

enum StatementParser {
    /// The non-empty statements of `query`, split on `;` outside quotes, in order.
    static func statements(in query: String) -> [Statement] {
        var result: [Statement] = []
        var current: [Character] = []
        var quote: Character?
        for character in query {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == ";" {
                appendStatement(current, to: &result)
                current.removeAll(keepingCapacity: true)
                continue
            }
            current.append(character)
        }
        appendStatement(current, to: &result)
        return result
    }

    private static func appendStatement(_ characters: [Character], to result: inout [Statement]) {
        let text = String(characters).trimmingWhitespace
        guard !text.isEmpty else { return }
        result.append(Statement(text: collapseWhitespace(text), words: words(in: text)))
    }

    /// Words of one statement; a quoted word may contain spaces.
    static func words(in text: String) -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var previousWasClosingQuote = false
        for character in text {
            if let open = quote {
                if character == open {
                    quote = nil
                    previousWasClosingQuote = true
                    continue
                }
                word.append(character)
                continue
            }
            if (character == "\"" || character == "'") {
                if previousWasClosingQuote { word.append(character) }
                quote = character
                inWord = true
                previousWasClosingQuote = false
                continue
            }
            previousWasClosingQuote = false
            if character.isWhitespace {
                if inWord { words.append(word); word = ""; inWord = false }
            } else {
                word.append(character)
                inWord = true
            }
        }
        if inWord { words.append(word) }
        return words
    }

    private static func collapseWhitespace(_ text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}

extension String {
    var trimmingWhitespace: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
