// TerminalScreen: the thin terminal layer of `sluice top` — raw mode, size, SIGWINCH, keys, redraws (plain ANSI).
import Foundation
import SluiceTools

/// Why the terminal could not be set up.
struct TerminalError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The saved terminal settings and the self-pipe, reachable from signal handlers (which capture nothing).
nonisolated(unsafe) private var savedSettings = termios()
nonisolated(unsafe) private var settingsSaved = false
nonisolated(unsafe) private var resizePipe: (read: Int32, write: Int32) = (-1, -1)
/// Shows the cursor again and leaves the alternate screen.
private let leaveScreen: [UInt8] = Array("\u{1B}[?25h\u{1B}[?1049l".utf8)

/// Puts the terminal into raw mode on the alternate screen until `restore()` (also run on SIGINT,
/// SIGTERM and SIGHUP, then the process exits 128 + signal). Keys are read without echo; `q` quits.
final class TerminalScreen {
    enum Event { case quit, resized, timeout }

    private var restored = false

    init() throws {
        var settings = termios()
        guard tcgetattr(STDIN_FILENO, &settings) == 0 else { throw TerminalError("cannot read the terminal settings") }
        savedSettings = settings
        settingsSaved = true
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw TerminalError("pipe: \(String(cString: strerror(errno)))") }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        resizePipe = (fds[0], fds[1])
        signal(SIGWINCH) { _ in
            var byte: UInt8 = 1
            _ = Foundation.write(resizePipe.write, &byte, 1)
        }
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { received in
                TerminalScreen.restoreFromSignal()
                _exit(128 + received)
            }
        }
        // Raw input (no line buffering, no echo); ISIG stays on so Ctrl-C still sends SIGINT.
        settings.c_lflag &= ~tcflag_t(ICANON | ECHO | IEXTEN)
        settings.c_iflag &= ~tcflag_t(IXON | ICRNL)
        withUnsafeMutableBytes(of: &settings.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &settings) == 0 else { throw TerminalError("cannot set raw mode") }
        output("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
    }

    deinit { restore() }

    /// Back to the settings found at start, main screen, cursor shown.
    func restore() {
        guard !restored else { return }
        restored = true
        Self.restoreFromSignal()
        signal(SIGWINCH, SIG_DFL)
    }

    /// Async-signal-safe: tcsetattr and write only.
    private static func restoreFromSignal() {
        if settingsSaved { _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedSettings) }
        leaveScreen.withUnsafeBufferPointer { _ = Foundation.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }

    /// Columns and rows of the terminal on `fd` (ioctl TIOCGWINSZ); nil when it is not a terminal.
    static func size(of fd: Int32) -> (columns: Int, rows: Int)? {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 else { return nil }
        return (Int(size.ws_col), Int(size.ws_row))
    }

    /// Redraws the whole screen from the top-left corner, each line cleared to its end.
    func draw(_ frame: TopFrame) {
        let size = Self.size(of: STDOUT_FILENO) ?? (80, 24)
        let lines = TopScreen.render(frame, width: size.columns, height: size.rows).map { line -> String in
            var text = line
            while text.last == " " { text.removeLast() }
            return text
        }
        output("\u{1B}[H" + lines.joined(separator: "\u{1B}[K\r\n") + "\u{1B}[K\u{1B}[J")
    }

    /// Waits for a key, a resize or `deadline`.
    func waitForEvent(until deadline: Date) -> Event {
        while true {
            let milliseconds = Int32(max(0, min(60_000, deadline.timeIntervalSinceNow * 1000)))
            var descriptors = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: resizePipe.read, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&descriptors, 2, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                return .quit
            }
            if ready == 0 { return .timeout }
            if descriptors[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                _ = Foundation.read(resizePipe.read, &drain, drain.count)
                return .resized
            }
            if descriptors[0].revents & Int16(POLLIN) != 0 {
                var keys = [UInt8](repeating: 0, count: 64)
                let count = Foundation.read(STDIN_FILENO, &keys, keys.count)
                if count <= 0 { return .quit }  // the terminal went away
                if keys[..<count].contains(where: { $0 == UInt8(ascii: "q") || $0 == UInt8(ascii: "Q") }) { return .quit }
                continue
            }
            if descriptors[0].revents != 0 { return .quit }  // POLLHUP / POLLERR
        }
    }

    private func output(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Foundation.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written > 0 { bytes = bytes.dropFirst(written) } else if errno != EINTR { return }
        }
    }
}
