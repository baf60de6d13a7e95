// ReadinessInterest: what one socket asks its loop's readiness set for, changed only when it differs.

/// A connection's read/write interest in the loop's epoll set. Connections say what they want after
/// every change (`update`); the set is only touched when that differs from what it holds.
public struct ReadinessInterest {
    public private(set) var read = true
    public private(set) var write = false

    public init() {}

    /// Asks `loop` for `read`/`write` on `socket` when that differs from the current interest.
    /// Returns true when reading resumed while TLS holds decrypted bytes that epoll will not
    /// announce again: the caller then reads them on a later turn of the loop.
    @inline(__always)
    public mutating func update(read wantRead: Bool, write wantWrite: Bool, socket: TCPSocket, loop: EventLoop) -> Bool {
        guard wantRead != read || wantWrite != write else { return false }
        let resumed = wantRead && !read
        read = wantRead
        write = wantWrite
        loop.setInterest(socket.fd, read: wantRead, write: wantWrite)
        return resumed && socket.hasBufferedPlaintext
    }
}
