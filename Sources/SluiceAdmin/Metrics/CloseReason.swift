// CloseReason: turns a raw close reason from the core into a bounded label value.

enum CloseReason {
    /// `upstream_closed:57P01` → `upstream_closed`: the part before `:` (details such as a SQLSTATE
    /// stay out of labels), lower-cased, restricted to `[a-z0-9_]`, at most 48 characters.
    static func label(_ raw: String) -> String {
        let head = raw.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var label = ""
        for scalar in head.lowercased().unicodeScalars.prefix(48) {
            switch scalar {
            case "a"..."z", "0"..."9", "_": label.unicodeScalars.append(scalar)
            default: label.unicodeScalars.append("_")
            }
        }
        return label.isEmpty ? "unknown" : label
    }
}
