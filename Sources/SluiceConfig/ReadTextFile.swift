// ReadTextFile: reads a whole UTF-8 file, with the operating system's reason when it cannot.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the file at `path` as UTF-8 text (config files are small; no size limit beyond 16 MiB).
func readTextFile(_ path: String) throws(ValueProblem) -> String {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw ValueProblem("cannot open: \(systemReason(errno))") }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw ValueProblem("cannot read: \(systemReason(errno))")
        }
        if count == 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
        guard bytes.count <= 16 << 20 else { throw ValueProblem("file is larger than 16 MiB") }
    }
    var text = ""
    var decoder = UTF8()
    var iterator = bytes.makeIterator()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar): text.unicodeScalars.append(scalar)
        case .emptyInput: return text
        case .error: throw ValueProblem("not valid UTF-8 text")
        }
    }
}

private func systemReason(_ code: Int32) -> String {
    String(cString: strerror(code))
}
