// SCRAMBenchmarks: a whole SCRAM-SHA-256 login (client and server side), as Sluice runs it per client login.
import Benchmark
import PostgresWire

/// One full exchange: client-first → server-first → client-final → server-final, with the server
/// verifying the proof against a stored verifier and the client checking the server's signature.
@inline(never)
private func scramExchange(secret: SCRAMSecret, password: String, cachedKeys: SCRAMClientKeys?) -> SCRAMClientKeys? {
    var client = SCRAMClientExchange(password: password, cachedKeys: cachedKeys)
    var server = SCRAMServerExchange(secret: secret)
    let first = client.initialResponse()
    guard case .success(let serverFirst) = server.clientFirstReceived(first.data),
          case .success(let clientFinal) = client.serverFirstReceived(serverFirst),
          case .success(let serverFinal) = server.clientFinalReceived(clientFinal),
          case .success = client.serverFinalReceived(serverFinal),
          server.isFinished, client.isFinished else {
        fatalError("SCRAM exchange failed")
    }
    return client.keys
}

func registerSCRAMBenchmarks() {
    let password = "app-secret"
    // A PostgreSQL-style verifier (4096 iterations, 16-byte salt), derived once outside the measurement.
    nonisolated(unsafe) var secret: SCRAMSecret?
    nonisolated(unsafe) var keys: SCRAMClientKeys?
    let setup: () -> Void = {
        if secret == nil {
            secret = SCRAMSecret.derive(password: password, salt: SCRAM.generateSalt(), iterations: SCRAM.defaultIterations)
            keys = scramExchange(secret: secret!, password: password, cachedKeys: nil)
        }
    }
    let perExchange = Benchmark.Configuration(metrics: microMetrics, warmupIterations: 5,
                                              maxDuration: .seconds(3), maxIterations: 5_000)

    // Client runs PBKDF2 (4096 rounds of HMAC-SHA-256): what a login costs when no keys are cached.
    Benchmark("SCRAM: full exchange (client PBKDF2, 4096 iterations)", configuration: perExchange) { benchmark in
        let secret = secret!
        measuringCPU(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(scramExchange(secret: secret, password: password, cachedKeys: nil))
            }
        }
    } setup: { setup() }

    // Client reuses ClientKey/ServerKey (as Sluice's upstream logins do): the exchange without PBKDF2.
    Benchmark("SCRAM: full exchange (client keys cached, no PBKDF2)", configuration: perExchange) { benchmark in
        let secret = secret!
        let keys = keys!
        measuringCPU(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(scramExchange(secret: secret, password: password, cachedKeys: keys))
            }
        }
    } setup: { setup() }
}
