// ReadyForQuery ('Z'): the server is idle and reports the transaction status.

/// The transaction status byte of ReadyForQuery.
public enum TransactionStatus: UInt8, Sendable, Equatable {
    /// 'I': not in a transaction block.
    case idle = 0x49
    /// 'T': in a transaction block.
    case inTransaction = 0x54
    /// 'E': in a failed transaction block; queries are rejected until it ends.
    case failed = 0x45
}

public struct ReadyForQuery: BackendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "Z") }
    public var status: TransactionStatus

    public init(status: TransactionStatus) {
        self.status = status
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.append(status.rawValue)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> ReadyForQuery {
        var reader = ByteReader(body, context: "ReadyForQuery")
        let byte = try reader.readUInt8()
        guard let status = TransactionStatus(rawValue: byte) else {
            throw reader.malformed("unknown transaction status byte \(byte)")
        }
        try reader.expectEnd()
        return ReadyForQuery(status: status)
    }
}
