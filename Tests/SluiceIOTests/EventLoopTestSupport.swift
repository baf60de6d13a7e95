// EventLoopTestSupport: socket pairs registered on a loop, with a handler that counts what arrives.
import Dispatch
import XCTest
@testable import SluiceIO
#if canImport(Glibc)
import Glibc
#endif

/// Reads whatever arrives on `fd` and signals `seen` once per byte.
final class ByteCounter: IOHandler, @unchecked Sendable {
    let fd: Int32
    let seen = DispatchSemaphore(value: 0)
    var bytes = 0
    init(fd: Int32) { self.fd = fd }
    func ioReady(readable: Bool, writable: Bool, hangup: Bool) {
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buffer, buffer.count)
        if n > 0 {
            bytes += n
            for _ in 0..<n { seen.signal() }
        }
    }
}

/// A socket pair; the first end is non-blocking.
func socketPair() -> (Int32, Int32) {
    var fds: [Int32] = [0, 0]
    XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
    XCTAssertEqual(fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK), 0)
    return (fds[0], fds[1])
}

func poke(_ fd: Int32) {
    var byte: UInt8 = 1
    XCTAssertEqual(write(fd, &byte, 1), 1)
}

/// A socket pair whose first end is registered on `loop`, counting the bytes that arrive.
func watchedPair(on loop: EventLoop) -> (ours: Int32, peer: Int32, counter: ByteCounter) {
    let (ours, peer) = socketPair()
    let counter = ByteCounter(fd: ours)
    loop.sync { try! loop.register(ours, handler: counter, read: true, write: false) }
    return (ours, peer, counter)
}
