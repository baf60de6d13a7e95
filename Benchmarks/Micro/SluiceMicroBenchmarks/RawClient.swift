// RawClient: a blocking TCP PostgreSQL client on preallocated memory, so the benchmark's own side
// of a round trip allocates nothing. Only login (setup) uses PostgresWire's encoders and SCRAM client.
import PostgresWire
import SluiceIO
#if canImport(Glibc)
import Glibc
#endif

struct RelaySetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Connects to `address`; nil when nothing listens there (waits at most `timeoutMilliseconds`).
func connectTCP(_ address: SocketAddress, timeoutMilliseconds: Int32 = 2_000) -> Int32? {
    let fd = socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    let flags = fcntl(fd, F_GETFL, 0)
    _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    var storage = address.storage
    let rc = withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, address.length) }
    }
    if rc != 0 {
        guard errno == EINPROGRESS else { close(fd); return nil }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard poll(&poller, 1, timeoutMilliseconds) == 1,
              getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 else {
            close(fd)
            return nil
        }
    }
    _ = fcntl(fd, F_SETFL, flags)  // blocking again
    var one: Int32 = 1
    _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    return fd
}

final class RawClient {
    let fd: Int32
    private let capacity = 1 << 16
    private let buffer: UnsafeMutableRawPointer
    private var start = 0
    private var end = 0
    /// ErrorResponse messages seen in round trips (there should be none).
    private(set) var errors = 0

    init(address: SocketAddress) throws {
        guard let fd = connectTCP(address) else { throw RelaySetupError("could not connect to \(address)") }
        self.fd = fd
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        buffer.deallocate()
    }

    func close() {
        _ = Glibc.close(fd)
    }

    @inline(__always)
    func writeAll(_ pointer: UnsafeRawPointer, count: Int) {
        var offset = 0
        while offset < count {
            let n = Glibc.write(fd, pointer + offset, count - offset)
            if n > 0 { offset += n; continue }
            if n < 0 && errno == EINTR { continue }
            fatalError("relay client: write failed (errno \(errno))")
        }
    }

    func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { writeAll($0.baseAddress!, count: $0.count) }
    }

    /// Reads more bytes into the buffer, moving unread bytes to the front when the tail is short.
    @inline(__always)
    private func fill() {
        if start == end {
            start = 0
            end = 0
        } else if capacity - end < 8192 {
            (buffer).copyMemory(from: buffer + start, byteCount: end - start)
            end -= start
            start = 0
        }
        while true {
            let n = Glibc.read(fd, buffer + end, capacity - end)
            if n > 0 { end += n; return }
            if n < 0 && errno == EINTR { continue }
            fatalError("relay client: connection closed by the proxy (read returned \(n), errno \(errno))")
        }
    }

    @inline(__always)
    private func int32(at offset: Int) -> Int {
        Int(Int32(bitPattern: UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
    }

    /// Reads whole messages up to and including ReadyForQuery; returns how many there were.
    @inline(__always)
    func readUntilReady() -> Int {
        var messages = 0
        while true {
            while end - start >= 5 {
                let type = buffer.load(fromByteOffset: start, as: UInt8.self)
                let length = int32(at: start + 1)
                precondition(length >= 4 && length < capacity - 8192, "relay client: bad frame length \(length)")
                guard end - start >= length + 1 else { break }
                start += length + 1
                messages += 1
                if type == ErrorResponse.typeCode { errors += 1 }
                if type == ReadyForQuery.typeCode {
                    precondition(start == end, "relay client: bytes after ReadyForQuery")
                    start = 0
                    end = 0
                    return messages
                }
            }
            fill()
        }
    }

    /// One whole message (setup only: allocates).
    func readMessage() -> (type: UInt8, body: [UInt8]) {
        while true {
            if end - start >= 5 {
                let length = int32(at: start + 1)
                precondition(length >= 4 && length < capacity - 8192, "relay client: bad frame length \(length)")
                if end - start >= length + 1 {
                    let type = buffer.load(fromByteOffset: start, as: UInt8.self)
                    let body = [UInt8](UnsafeRawBufferPointer(start: buffer + start + 5, count: length - 4))
                    start += length + 1
                    return (type, body)
                }
            }
            fill()
        }
    }

    /// Startup and SCRAM-SHA-256 login, up to the first ReadyForQuery.
    func login(user: String, database: String, password: String) throws {
        writeAll(StartupPacket.startup(protocolVersion: StartupPacket.protocolVersion3,
                                       parameters: ["user": user, "database": database,
                                                    "application_name": "sluice-microbench"]).encoded)
        var scram: SCRAMClientExchange?
        while true {
            let (type, body) = readMessage()
            switch type {
            case Authentication.typeCode:
                switch try Authentication.decode(body: body[...]) {
                case .ok:
                    break
                case .sasl(let mechanisms):
                    guard mechanisms.contains(SCRAM.mechanism) else {
                        throw RelaySetupError("server offers SASL mechanisms \(mechanisms), not \(SCRAM.mechanism)")
                    }
                    var exchange = SCRAMClientExchange(password: password)
                    let first = exchange.initialResponse()
                    scram = exchange
                    writeAll(SASLInitialResponse(mechanism: first.mechanism, data: first.data).encoded)
                case .saslContinue(let data):
                    guard var exchange = scram, case .success(let final) = exchange.serverFirstReceived(data) else {
                        throw RelaySetupError("SCRAM: bad server-first message")
                    }
                    scram = exchange
                    writeAll(SASLResponse(data: final).encoded)
                case .saslFinal(let data):
                    guard var exchange = scram, case .success = exchange.serverFinalReceived(data) else {
                        throw RelaySetupError("SCRAM: server signature did not verify")
                    }
                    scram = exchange
                case let other:
                    throw RelaySetupError("unsupported authentication request \(other.code) (only SCRAM-SHA-256 is implemented)")
                }
            case ErrorResponse.typeCode:
                let error = try? ErrorResponse.decode(body: body[...])
                throw RelaySetupError("login refused: \(error?.code ?? "?") \(error?.message ?? "")")
            case ReadyForQuery.typeCode:
                return
            default:
                continue  // ParameterStatus, BackendKeyData, NoticeResponse
            }
        }
    }
}
