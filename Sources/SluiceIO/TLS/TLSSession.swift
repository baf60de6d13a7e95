// TLSSession: one TLS connection driven through a BIO pair, so the socket never blocks.
import COpenSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One TLS connection, confined to its loop. Ciphertext never touches a socket here: it goes
/// in with `receiveCiphertext` and comes out with `takeCiphertext` (or, inside SluiceIO,
/// straight between the socket and the BIO pair's ring buffers), so handshakes and records
/// advance as bytes arrive.
public final class TLSSession {
    public let context: TLSContext
    public let role: TLSRole
    /// The `SSL *`.
    let ssl: OpaquePointer
    /// SSL's half of the BIO pair (owned by `ssl`).
    private let internalBIO: OpaquePointer
    /// Our half of the BIO pair: written with ciphertext from the peer, read for ciphertext to send.
    private let networkBIO: OpaquePointer
    /// Ciphertext received that did not fit into the pair's ring yet (rare: a big first flight).
    private var backlog: ByteBuffer?
    /// Set when OpenSSL asked for more input and nothing came since; keeps
    /// `hasBufferedPlaintext` from promising a record that is only partly here.
    private var inputStarved = false
    /// The last step stopped because the outgoing ring was full.
    private(set) var lastStepWantedWrite = false
    private var sentCloseNotify = false
    private var receivedCloseNotify = false
    /// A socket read returned data and kept back the close_notify or failure that followed
    /// it; the next read reports it (so `hasBufferedPlaintext` must say "read again").
    var endDeferred = false
    public private(set) var isEstablished = false
    /// The failure that ended this session, if any; every later step reports it again.
    public private(set) var failure: TLSError?

    /// Size of each direction's ring in the BIO pair: one full TLS record and its overhead.
    static let ringSize = 17 * 1024

    /// A session for `role`; the context must be of the same side (server or client).
    /// A client with a server name sends it as SNI (unless it is an IP literal) and, under
    /// `.verifyFull`, checks the certificate against it (as a DNS name or an IP address).
    public init(context: TLSContext, role: TLSRole) throws {
        self.context = context
        self.role = role
        ERR_clear_error()
        let isServerRole = role == .server
        guard context.isServer == isServerRole else {
            throw TLSError.configuration(isServerRole ? "a server session needs a server TLS context"
                                                      : "a client session needs a client TLS context")
        }
        guard let ssl = SSL_new(context.context) else {
            throw TLSError.configuration(OpenSSLErrorQueue.message("could not create TLS session"))
        }
        var internalHalf: OpaquePointer?
        var networkHalf: OpaquePointer?
        guard BIO_new_bio_pair(&internalHalf, TLSSession.ringSize, &networkHalf, TLSSession.ringSize) == 1,
              let internalHalf, let networkHalf else {
            SSL_free(ssl)
            throw TLSError.configuration(OpenSSLErrorQueue.message("could not create TLS buffers"))
        }
        SSL_set_bio(ssl, internalHalf, internalHalf)
        self.ssl = ssl
        self.internalBIO = internalHalf
        self.networkBIO = networkHalf

        switch role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client(let serverName):
            SSL_set_connect_state(ssl)
            try configureClient(serverName: serverName)
        }
    }

    deinit {
        SSL_free(ssl)
        BIO_free(networkBIO)
    }

    private func configureClient(serverName: String?) throws {
        let name = serverName.map { $0.hasPrefix("[") && $0.hasSuffix("]") ? String($0.dropFirst().dropLast()) : $0 } ?? ""
        let isIPLiteral = TLSSession.isIPLiteral(name)
        if !name.isEmpty && !isIPLiteral {
            let rc = name.withCString {
                SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0))
            }
            guard rc == 1 else {
                throw TLSError.configuration(OpenSSLErrorQueue.message("could not set TLS server name \"\(name)\""))
            }
        }
        if context.serverVerification == .verifyFull {
            guard !name.isEmpty else {
                throw TLSError.configuration("verify-full needs the server's host name")
            }
            if isIPLiteral {
                guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1 else {
                    throw TLSError.configuration(OpenSSLErrorQueue.message("could not set the expected IP address \"\(name)\""))
                }
            } else {
                SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                guard SSL_set1_host(ssl, name) == 1 else {
                    throw TLSError.configuration(OpenSSLErrorQueue.message("could not set the expected host name \"\(name)\""))
                }
            }
        }
        var protocols: [UInt8] = [UInt8(postgreSQLProtocolName.count)] + postgreSQLProtocolName
        guard SSL_set_alpn_protos(ssl, &protocols, UInt32(protocols.count)) == 0 else {
            throw TLSError.configuration(OpenSSLErrorQueue.message("could not set ALPN"))
        }
    }

    static func isIPLiteral(_ name: String) -> Bool {
        if name.isEmpty { return false }
        var address = in6_addr()
        return inet_pton(AF_INET, name, &address) == 1 || inet_pton(AF_INET6, name, &address) == 1
    }

    // MARK: Ciphertext in and out

    /// Hands ciphertext received from the peer to the session (copied; any amount).
    public func receiveCiphertext(_ pointer: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        inputStarved = false
        var offset = 0
        if backlog?.isEmpty ?? true {
            while offset < count {
                var window: UnsafeMutablePointer<CChar>?
                let space = Int(BIO_nwrite0(networkBIO, &window))
                guard space > 0, let base = window else { break }
                let n = min(space, count - offset)
                UnsafeMutableRawPointer(base).copyMemory(from: pointer + offset, byteCount: n)
                _ = BIO_nwrite(networkBIO, &window, Int32(n))
                offset += n
            }
        }
        if offset < count {
            let buffer = backlog ?? ByteBuffer(capacity: count - offset)
            buffer.append(pointer + offset, count: count - offset)
            backlog = buffer
        }
    }

    /// Moves all ciphertext waiting to be sent into `buffer`; returns the byte count.
    public func takeCiphertext(into buffer: ByteBuffer) -> Int {
        var total = 0
        while true {
            let (pointer, count) = outgoingCiphertext()
            guard count > 0, let pointer else { return total }
            buffer.append(pointer, count: count)
            consumeOutgoingCiphertext(count)
            total += count
        }
    }

    /// True when ciphertext is waiting to be sent.
    public var hasCiphertextToSend: Bool { BIO_ctrl_pending(networkBIO) > 0 }

    /// Free contiguous room for incoming ciphertext (commit with `commitIncomingCiphertext`).
    /// Empty while older ciphertext waits in the backlog.
    func incomingWindow() -> (UnsafeMutableRawPointer?, Int) {
        if let backlog, !backlog.isEmpty { feedBacklog(); if !backlog.isEmpty { return (nil, 0) } }
        var window: UnsafeMutablePointer<CChar>?
        let space = Int(BIO_nwrite0(networkBIO, &window))
        guard space > 0, let window else { return (nil, 0) }
        return (UnsafeMutableRawPointer(window), space)
    }

    func commitIncomingCiphertext(_ count: Int) {
        var window: UnsafeMutablePointer<CChar>?
        _ = BIO_nwrite(networkBIO, &window, Int32(count))
        inputStarved = false
    }

    /// The next contiguous run of ciphertext to send (consume with `consumeOutgoingCiphertext`).
    func outgoingCiphertext() -> (UnsafeRawPointer?, Int) {
        var window: UnsafeMutablePointer<CChar>?
        let count = Int(BIO_nread0(networkBIO, &window))
        guard count > 0, let window else { return (nil, 0) }
        return (UnsafeRawPointer(window), count)
    }

    func consumeOutgoingCiphertext(_ count: Int) {
        var window: UnsafeMutablePointer<CChar>?
        _ = BIO_nread(networkBIO, &window, Int32(count))
    }

    /// Moves backlog bytes into the ring; returns how many moved.
    @discardableResult
    private func feedBacklog() -> Int {
        guard let backlog, !backlog.isEmpty else { return 0 }
        var moved = 0
        while !backlog.isEmpty {
            var window: UnsafeMutablePointer<CChar>?
            let space = Int(BIO_nwrite0(networkBIO, &window))
            guard space > 0, let base = window else { break }
            let n = min(space, backlog.readableBytes)
            UnsafeMutableRawPointer(base).copyMemory(from: backlog.readPointer, byteCount: n)
            _ = BIO_nwrite(networkBIO, &window, Int32(n))
            backlog.consume(n)
            moved += n
        }
        if backlog.isEmpty { self.backlog = nil }
        return moved
    }

    // MARK: Handshake and records

    /// Advances the handshake with the ciphertext received so far. After `.needsIO`, send what
    /// `takeCiphertext` yields and call again when more ciphertext has arrived. After `.failed`,
    /// send what is left (the alert) and close.
    public func handshake() -> TLSHandshakeResult {
        if isEstablished { return .complete }
        if let failure { return .failed(failure) }
        lastStepWantedWrite = false
        while true {
            ERR_clear_error()
            let rc = SSL_do_handshake(ssl)
            if rc == 1 {
                isEstablished = true
                inputStarved = false
                return .complete
            }
            let code = SSL_get_error(ssl, rc)
            switch code {
            case SSL_ERROR_WANT_READ:
                if feedBacklog() > 0 { continue }
                inputStarved = true
                return .needsIO
            case SSL_ERROR_WANT_WRITE:
                lastStepWantedWrite = true
                return .needsIO
            default:
                let error = handshakeError(code)
                failure = error
                return .failed(error)
            }
        }
    }

    /// Decrypts up to `max` plaintext bytes into `buffer`'s tail.
    public func readPlaintext(into buffer: ByteBuffer, max: Int) -> TLSReadResult {
        buffer.reserve(max)
        let result = readPlaintext(into: buffer.writePointer, max: max)
        if case .bytes(let n) = result { buffer.writeIndex += n }
        return result
    }

    /// Decrypts up to `max` plaintext bytes to `pointer`.
    func readPlaintext(into pointer: UnsafeMutableRawPointer, max: Int) -> TLSReadResult {
        if let failure { return .failed(failure) }
        if receivedCloseNotify { return .closed }
        guard isEstablished else {
            return .failed(.connection("application data cannot be read before the TLS handshake completes"))
        }
        lastStepWantedWrite = false
        while true {
            ERR_clear_error()
            let n = SSL_read(ssl, pointer, Int32(clamping: max))
            if n > 0 { return .bytes(Int(n)) }
            let code = SSL_get_error(ssl, n)
            switch code {
            case SSL_ERROR_WANT_READ:
                if feedBacklog() > 0 { continue }
                inputStarved = true
                return .needsIO
            case SSL_ERROR_WANT_WRITE:
                lastStepWantedWrite = true
                return .needsIO
            case SSL_ERROR_ZERO_RETURN:
                receivedCloseNotify = true
                return .closed
            default:
                let error = TLSError.connection(failureText(code))
                failure = error
                return .failed(error)
            }
        }
    }

    /// Encrypts plaintext. Returns how many bytes were taken: whole records are written until
    /// the outgoing ring is full, so fewer than `count` (even 0) means "take the ciphertext
    /// out, then call again with the remaining bytes" (the same bytes, if 0 were taken).
    public func writePlaintext(_ pointer: UnsafeRawPointer, count: Int) -> Result<Int, TLSError> {
        if let failure { return .failure(failure) }
        guard isEstablished else {
            return .failure(.connection("application data cannot be sent before the TLS handshake completes"))
        }
        if count == 0 { return .success(0) }
        lastStepWantedWrite = false
        ERR_clear_error()
        let n = SSL_write(ssl, pointer, Int32(clamping: min(count, 1 << 30)))
        if n > 0 { return .success(Int(n)) }
        let code = SSL_get_error(ssl, n)
        switch code {
        case SSL_ERROR_WANT_WRITE, SSL_ERROR_WANT_READ:
            lastStepWantedWrite = code == SSL_ERROR_WANT_WRITE
            return .success(0)
        default:
            let error = TLSError.connection(failureText(code))
            failure = error
            return .failure(error)
        }
    }

    /// Queues close_notify (once, only on a healthy established session); send it with the
    /// other outgoing ciphertext.
    public func shutdown() {
        guard isEstablished, failure == nil, !sentCloseNotify else { return }
        sentCloseNotify = true
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// True when `readPlaintext` can make progress without new ciphertext from the socket:
    /// decrypted bytes are held inside OpenSSL, or undecrypted records sit in our buffers.
    /// The socket will not become readable for these bytes, so the owner must read again.
    public var hasBufferedPlaintext: Bool {
        if failure != nil || receivedCloseNotify || !isEstablished { return false }
        if SSL_pending(ssl) > 0 { return true }
        if inputStarved { return false }
        return BIO_ctrl_pending(internalBIO) > 0 || SSL_has_pending(ssl) == 1 || !(backlog?.isEmpty ?? true)
    }

    /// True once the peer's close_notify was read.
    public var peerClosed: Bool { receivedCloseNotify }

    // MARK: Errors

    private func handshakeError(_ code: Int32) -> TLSError {
        let entries = OpenSSLErrorQueue.drainEntries()
        if entries.contains(where: { $0.reason == SSL_R_CERTIFICATE_VERIFY_FAILED }) {
            let result = SSL_get_verify_result(ssl)
            if result != X509_V_OK, let text = X509_verify_cert_error_string(result) {
                return .handshake(reason: "certificate verify failed: \(String(cString: text))")
            }
        }
        let texts = OpenSSLErrorQueue.texts(entries)
        if texts.isEmpty {
            return .handshake(reason: code == SSL_ERROR_SYSCALL ? "the connection was closed during the TLS handshake"
                                                                 : "OpenSSL error \(code)")
        }
        return .handshake(reason: texts.joined(separator: "; "))
    }

    private func failureText(_ code: Int32) -> String {
        let texts = OpenSSLErrorQueue.drain()
        if texts.isEmpty { return code == SSL_ERROR_SYSCALL ? "unexpected end of TLS stream" : "OpenSSL error \(code)" }
        return texts.joined(separator: "; ")
    }
}
