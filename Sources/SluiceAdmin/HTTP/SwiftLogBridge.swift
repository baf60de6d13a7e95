// SwiftLogBridge: FlyingFox's log lines go to Sluice's swift-log Logger (never to stdout).
import FlyingSocks
import Foundation
import Logging

/// FlyingFox logs every connection and request; those are debug noise for a scrape endpoint, so
/// its info goes to debug and its "errors" (a 404, a client hanging up) to notice. Once `stopping`
/// is set, everything is debug: closing the socket makes FlyingFox report a "critical" disconnect.
struct SwiftLogBridge: FlyingSocks.Logging {
    let logger: Logger
    let stopping: StopFlag

    func logDebug(_ debug: @autoclosure () -> String) { logger.trace("\(debug())") }
    func logInfo(_ info: @autoclosure () -> String) { logger.debug("\(info())") }
    func logWarning(_ warning: @autoclosure () -> String) { log(.notice, warning()) }
    func logError(_ error: @autoclosure () -> String) { log(.notice, error()) }
    func logCritical(_ critical: @autoclosure () -> String) { log(.error, critical()) }

    private func log(_ level: Logger.Level, _ message: String) {
        logger.log(level: stopping.isSet ? .debug : level, "\(message)")
    }
}

/// Set when `stop()` was asked for, so the server's shutdown noise is not reported as an error.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}
