// ReadinessInterest: what one socket asks its loop's readiness set for, changed only when it differs.

/// A connection's read/write interest in the loop's epoll set. Connections say what they want after
/// every change (`update`); the set is only touched when that differs from what it holds.
public struct ReadinessInterest {
    public private(set) var read = true
    public private(set) var write = false

    public init() {}

    /// Asks `loop` for `read`/`write` on `fd` when that differs from the current interest.
    /// Returns true when reading resumes: the caller then reads what TLS may already hold
    /// decrypted (epoll will not announce those bytes again; see `resumeBufferedRead`).
    @inline(__always)
    public mutating func update(read wantRead: Bool, write wantWrite: Bool, fd: Int32, loop: EventLoop) -> Bool {
        guard wantRead != read || wantWrite != write else { return false }
        let resumed = wantRead && !read
        read = wantRead
        write = wantWrite
        loop.setInterest(fd, read: wantRead, write: wantWrite)
        return resumed
    }
}

extension EventLoop {
    /// After reading resumed on a socket whose TLS layer holds decrypted bytes: reads them on a
    /// later turn of the loop, if the owner still wants to (`stillWanted`).
    public func resumeBufferedRead(of socket: TCPSocket, stillWanted: @escaping () -> Bool, read: @escaping () -> Void) {
        guard socket.hasBufferedPlaintext else { return }
        execute {
            guard stillWanted() else { return }
            read()
        }
    }
}
