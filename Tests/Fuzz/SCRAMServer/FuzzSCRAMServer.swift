// FuzzSCRAMServer: libFuzzer target: SCRAMServerExchange fed client-first and client-final from the input.
import PostgresWire

/// Verifier for password "pencil" with 1 iteration: cheap enough for millions of runs.
private let secret = SCRAMSecret.derive(password: "pencil", salt: Array("QSXCR+Q6sek8bf92".utf8), iterations: 1)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // client-first NUL client-final [NUL anything: a third message after the exchange ended].
    let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false).map(Array.init)
    // A fixed server nonce so a seed's client-final can carry the matching r=… and reach the proof check.
    var exchange = SCRAMServerExchange(secret: secret, nonce: "3rfcNHYJY1ZVvWVs7j")
    let first = exchange.clientFirstReceived(parts[0])
    if case .success(let serverFirst) = first {
        precondition(String(validating: serverFirst, as: UTF8.self)?.hasPrefix("r=") == true, "server-first is not r=…")
    }
    precondition(!exchange.isFinished)
    guard parts.count > 1 else { return 0 }
    let final = exchange.clientFinalReceived(parts[1])
    switch final {
    case .success(let serverFinal):
        precondition(exchange.isFinished && serverFinal.starts(with: Array("v=".utf8)), "success without v=…")
        guard case .success = first else { preconditionFailure("client-final accepted without client-first") }
    case .failure:
        precondition(!exchange.isFinished, "failed exchange reports finished")
    }
    if parts.count > 2 {
        // After success or failure, any further message is refused.
        guard case .failure(.invalidState) = exchange.clientFinalReceived(parts[2]) else {
            preconditionFailure("a message after the end of the exchange was not refused")
        }
        guard case .failure(.invalidState) = exchange.clientFirstReceived(parts[2]) else {
            preconditionFailure("client-first after the end of the exchange was not refused")
        }
    }
    return 0
}
