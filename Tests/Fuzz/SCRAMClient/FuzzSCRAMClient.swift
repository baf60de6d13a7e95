// FuzzSCRAMClient: libFuzzer target: SCRAMClientExchange fed server-first and server-final from the input.
import PostgresWire

/// The client's nonce (RFC 7677's example), fixed so a seed's server-first can continue it.
private let clientNonce = "rOprNGfwEbeRWgbNEkqO"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    // First byte: channel binding choice. Then server-first NUL server-final.
    let binding: SCRAMChannelBinding = switch data[0] % 3 {
    case 0: .none
    case 1: .clientSupportsButNotUsed
    default: .tlsServerEndPoint(certificateHash: Array(repeating: data[0], count: 32))
    }
    let parts = bytes.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false).map(Array.init)
    // PBKDF2 cost is linear in i=…: the exchange accepts up to 100,000,000 (a trusted upstream's
    // choice); the fuzzer skips counts over 64 so one run stays well under a millisecond.
    if let iterations = iterationCount(parts[0]), iterations > 64 { return 0 }
    var exchange = SCRAMClientExchange(password: "pencil", channelBinding: binding, nonce: clientNonce)
    let initial = exchange.initialResponse()
    precondition(initial.mechanism.hasPrefix("SCRAM-SHA-256"))
    let first = exchange.serverFirstReceived(parts[0])
    if case .success(let clientFinal) = first {
        let text = String(decoding: clientFinal, as: UTF8.self)
        precondition(text.hasPrefix("c=") && text.contains(",p="), "client-final is not c=…,r=…,p=…")
        precondition(exchange.keys != nil, "keys not kept after server-first")
    }
    guard parts.count > 1 else { return 0 }
    let final = exchange.serverFinalReceived(parts[1])
    if case .success = final {
        guard case .success = first else { preconditionFailure("server-final accepted without server-first") }
        precondition(exchange.isFinished)
    } else {
        precondition(!exchange.isFinished)
    }
    guard case .failure(.invalidState) = exchange.serverFinalReceived(parts[1]) else {
        preconditionFailure("a second server-final was not refused")
    }
    return 0
}

/// The value of an `i=` attribute anywhere in the message, if it is a number.
private func iterationCount(_ message: [UInt8]) -> Int? {
    let text = String(decoding: message, as: UTF8.self)
    for part in text.split(separator: ",") where part.hasPrefix("i=") {
        if let value = Int(part.dropFirst(2)) { return value }
        return nil
    }
    return nil
}
