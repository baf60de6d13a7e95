// sluice: command line, config loading, signals and wiring.
import ArgumentParser
import CSluiceShim
import Dispatch
import Foundation
import Logging
import SluiceAdmin
import SluiceConfig
import SluiceCore

struct Sluice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A connection-pooling proxy for serverless PostgreSQL.",
        subcommands: [Run.self, CheckConfig.self, Urls.self, ImportPgBouncer.self, Doctor.self, Top.self],
        defaultSubcommand: Run.self)
}

/// Loads the config from `--config`, `SLUICE_CONFIG`, or the environment alone.
func loadConfig(path: String?) throws(ConfigErrors) -> SluiceConfig {
    let environment = ProcessInfo.processInfo.environment
    if let path = path ?? environment["SLUICE_CONFIG"], !path.isEmpty {
        return try ConfigLoader.load(path: path, environment: environment)
    }
    return try ConfigLoader.fromEnvironment(environment)
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the pooler (the default).")

    @Option(name: .shortAndLong, help: "Path of the TOML config file (or SLUICE_CONFIG).")
    var config: String?

    func run() throws {
        let loaded: SluiceConfig
        do { loaded = try loadConfig(path: config) } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .trace
            return handler
        }
        var logger = Logger(label: "sluice")
        logger.logLevel = .info
        let limit = sluice_raise_nofile_limit()
        // Metrics first: swift-metrics handles made before bootstrap stay no-ops.
        let metrics = SluiceMetrics.bootstrap()
        let group = try WorkerGroup(config: loaded, logger: logger)
        let runtime = group.first
        let console = AdminConsoleHandler()  // one for all workers: SHOW STATS averages span the process
        for worker in group.runtimes { worker.adminConsole = console }
        logger.notice("open files limit", metadata: ["nofile": "\(limit)", "client_capacity": "\(max(0, (limit - 64) / 2))"])
        do { try group.start() } catch {
            logger.critical("could not start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        if loaded.workers > 1 {
            logger.notice("workers started", metadata: ["workers": "\(loaded.workers)",
                                                        "pools": "each database's server connections divided between the workers"])
        }
        var httpServer: AdminHTTPServer?
        if let address = loaded.adminListen {
            let server = AdminHTTPServer(address: address,
                                         snapshot: { group.snapshot() },
                                         ready: { group.isReady },
                                         logger: logger, metrics: metrics)
            do { try server.start() } catch {
                logger.critical("could not start the admin HTTP endpoint", metadata: ["address": "\(address)", "error": "\(error)"])
                throw ExitCode(1)
            }
            logger.notice("admin endpoint listening", metadata: ["address": "\(address)", "paths": "/metrics /health /ready"])
            httpServer = server
        }
        let configPath = config ?? ProcessInfo.processInfo.environment["SLUICE_CONFIG"]
        let reload = {
            do {
                let fresh = try loadConfig(path: configPath)
                group.reload(fresh)
            } catch {
                runtime.logger.error("reload refused; keeping the running configuration",
                                     metadata: ["errors": "\(error)"])
            }
        }
        let shutdown = { group.shutdown { Foundation.exit(0) } }
        for worker in group.runtimes {
            worker.reloadHandler = reload
            worker.shutdownHandler = shutdown
        }
        signal(SIGPIPE, SIG_IGN)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGHUP, SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: runtime.loop.queue)
            source.setEventHandler {
                if sig == SIGHUP {
                    reload()
                } else {
                    shutdown()
                }
            }
            source.resume()
            sources.append(source)
        }
        withExtendedLifetime((sources, httpServer)) { dispatchMain() }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config", abstract: "Validate a config file and exit.")

    @Option(name: .shortAndLong, help: "Path of the TOML config file (or SLUICE_CONFIG).")
    var config: String?

    func run() throws {
        do {
            let loaded = try loadConfig(path: config)
            print("\(loaded.sourcePath ?? "environment"): OK (\(loaded.databases.count) database(s))")
        } catch {
            print(error.description)
            throw ExitCode(1)
        }
    }
}

Sluice.main()
