// TCPSocket+TLS: the TLS path of TCPSocket: handshake, decrypting reads, encrypting writes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension TCPSocket {
    /// True once `startTLS` was called.
    public var isTLS: Bool { tlsSession != nil }

    /// True when `read` would return data (or close_notify, or a TLS error) without the
    /// socket becoming readable again: OpenSSL holds decrypted bytes, or whole records already
    /// pulled out of the kernel wait to be decrypted. Level-triggered readiness will not fire
    /// for these, so after a read (and after the handshake completes) the owner reads again
    /// while this is true, and checks it again whenever it resumes reading after backpressure.
    public var hasBufferedPlaintext: Bool {
        guard let session = tlsSession else { return false }
        return session.endDeferred || session.hasBufferedPlaintext
    }

    /// Switches the socket to TLS. `alreadyReceived` is ciphertext the owner already read
    /// from this socket (a server seeing a direct-TLS ClientHello); never pass bytes received
    /// before the TLS request on a client (they would be unauthenticated). Bytes already in
    /// `pending` (e.g. the 'S' answer to SSLRequest) still go out first, unencrypted.
    /// Then call `continueHandshake()`.
    public func startTLS(_ session: TLSSession, alreadyReceived: UnsafeRawBufferPointer? = nil) {
        precondition(tlsSession == nil, "invalid state: TLS already started on this socket")
        tlsSession = session
        if let alreadyReceived, let base = alreadyReceived.baseAddress, alreadyReceived.count > 0 {
            session.receiveCiphertext(base, count: alreadyReceived.count)
        }
    }

    /// Drives the handshake as far as the bytes at hand allow: reads ciphertext from the
    /// socket, runs OpenSSL, writes its answer (flushing `pending` first, and keeping what the
    /// kernel refuses in `pending`).
    /// `.needsIO`: wait for readability (and writability while `hasPendingWrites`), then call
    /// again. `.complete`: TLS is up; read at once if `hasBufferedPlaintext`. `.failed`: close
    /// (the alert for the peer has already been written where the kernel took it).
    public func continueHandshake() -> TLSHandshakeResult {
        guard let session = tlsSession else {
            return .failed(.handshake(reason: "TLS was not started on this socket"))
        }
        if !pending.isEmpty && !flushPending() {
            return handshakeFailure("could not send TLS handshake data: \(errorText(errno))")
        }
        for _ in 0..<64 {
            let result = session.handshake()
            let sendError = sendCiphertext(session, buffering: true)
            switch result {
            case .complete:
                if sendError != 0 { return handshakeFailure("could not send TLS handshake data: \(errorText(sendError))") }
                return .complete
            case .failed(let error):
                lastTLSError = error
                return .failed(error)
            case .needsIO:
                if sendError != 0 { return handshakeFailure("could not send TLS handshake data: \(errorText(sendError))") }
                if session.lastStepWantedWrite { continue }
                switch fillFromSocket(session).outcome {
                case .bytes: continue
                case .wouldBlock: return .needsIO
                case .endOfFile: return handshakeFailure("the peer closed the connection during the TLS handshake")
                case .failed(let code): return handshakeFailure("could not receive TLS handshake data: \(errorText(code))")
                }
            }
        }
        return .needsIO
    }

    /// Queues close_notify and writes it (what the kernel refuses goes to `pending`).
    /// Returns false if the socket failed.
    @discardableResult
    public func shutdownTLS() -> Bool {
        guard let session = tlsSession else { return true }
        session.shutdown()
        return sendCiphertext(session, buffering: true) == 0
    }

    // MARK: Internals

    private func handshakeFailure(_ reason: String) -> TLSHandshakeResult {
        let error = TLSError.handshake(reason: reason)
        lastTLSError = error
        return .failed(error)
    }

    private func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// Reads one window of ciphertext from the socket into the session.
    /// `.bytes(n)` with `n` equal to the window means the kernel may hold more.
    private func fillFromSocket(_ session: TLSSession) -> (outcome: ReadOutcome, filledWindow: Bool) {
        let (window, space) = session.incomingWindow()
        guard let window, space > 0 else { return (.wouldBlock, false) }
        while true {
            let n = Glibc_read(fd, window, space)
            if n > 0 {
                session.commitIncomingCiphertext(n)
                bytesRead += UInt64(n)
                return (.bytes(n), n == space)
            }
            if n == 0 { return (.endOfFile, false) }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return (.wouldBlock, false) }
            return (.failed(e), false)
        }
    }

    /// Writes the session's outgoing ciphertext to the socket; with `buffering`, what the
    /// kernel refuses (or everything, while `pending` is not empty) is appended to `pending`.
    /// Returns 0, or the errno of a failed write.
    func sendCiphertext(_ session: TLSSession, buffering: Bool) -> Int32 {
        while true {
            let (bytes, count) = session.outgoingCiphertext()
            guard let bytes, count > 0 else { return 0 }
            if pending.isEmpty {
                let n = Glibc_write(fd, bytes, count)
                if n > 0 {
                    session.consumeOutgoingCiphertext(n)
                    bytesWritten += UInt64(n)
                    continue
                }
                let e = n < 0 ? errno : EIO
                if e == EINTR { continue }
                if e != EAGAIN && e != EWOULDBLOCK { return e }
                if !buffering { return 0 }
            } else if !buffering {
                return 0
            }
            pending.append(bytes, count: count)
            session.consumeOutgoingCiphertext(count)
        }
    }

    /// The TLS branch of `read(into:chunk:)`: decrypts into `buffer` until it is full or no
    /// whole record is left, reading the socket only while nothing was decrypted yet.
    func readTLS(_ session: TLSSession, into buffer: ByteBuffer, chunk: Int) -> ReadOutcome {
        buffer.reserve(chunk)
        session.endDeferred = false
        var total = 0
        var kernelMayHaveMore = true
        var socketReads = 0
        reading: while buffer.writableBytes > 0 {
            switch session.readPlaintext(into: buffer.writePointer, max: buffer.writableBytes) {
            case .bytes(let n):
                buffer.writeIndex += n
                total += n
            case .closed:
                if total > 0 { session.endDeferred = true; break reading }
                return .endOfFile
            case .failed(let error):
                _ = sendCiphertext(session, buffering: false)
                lastTLSError = error
                if total > 0 { session.endDeferred = true; break reading }
                return .failed(EPROTO)
            case .needsIO:
                if session.lastStepWantedWrite {
                    let code = sendCiphertext(session, buffering: true)
                    if code != 0 { return .failed(code) }
                    continue
                }
                if total > 0 { break reading }
                if !kernelMayHaveMore || socketReads >= 8 { return .wouldBlock }
                socketReads += 1
                let (outcome, filledWindow) = fillFromSocket(session)
                switch outcome {
                case .bytes: kernelMayHaveMore = filledWindow
                case .wouldBlock, .endOfFile, .failed: return outcome
                }
            }
        }
        // Reading can produce records of our own (a KeyUpdate answer, an alert).
        if session.hasCiphertextToSend {
            let code = sendCiphertext(session, buffering: true)
            if code != 0 { return .failed(code) }
        }
        return total > 0 ? .bytes(total) : .wouldBlock
    }

    /// The TLS branch of `write(_:count:)`.
    func writeTLS(_ session: TLSSession, _ pointer: UnsafeRawPointer, count: Int) -> Bool {
        var offset = 0
        while offset < count {
            switch session.writePlaintext(pointer + offset, count: count - offset) {
            case .success(let n):
                offset += n
                let producedOutput = session.hasCiphertextToSend
                if sendCiphertext(session, buffering: true) != 0 { return false }
                if n == 0 && !producedOutput {
                    lastTLSError = .connection("TLS write made no progress")
                    return false
                }
            case .failure(let error):
                _ = sendCiphertext(session, buffering: false)
                lastTLSError = error
                return false
            }
        }
        return true
    }

    /// Queues close_notify and gives it to the kernel if it takes it now; never buffers.
    func sendCloseNotifyBestEffort(_ session: TLSSession) {
        guard pending.isEmpty, session.isEstablished, session.failure == nil else { return }
        session.shutdown()
        _ = sendCiphertext(session, buffering: false)
    }
}
