// FuzzBackendMessages: libFuzzer target: MessageDecoder fed in chunks, every backend message decoded by type.
import FuzzSupport
import PostgresWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzMessageStream(data, size, decode: decodeBackend)
    return 0
}

private func decodeBackend(type: UInt8, body: ArraySlice<UInt8>) {
    switch type {
    case Authentication.typeCode: roundTrip(Authentication.self, body)
    case ParameterStatus.typeCode: roundTrip(ParameterStatus.self, body)
    case BackendKeyData.typeCode: roundTrip(BackendKeyData.self, body)
    case ReadyForQuery.typeCode: roundTrip(ReadyForQuery.self, body)
    case CommandComplete.typeCode: roundTrip(CommandComplete.self, body)
    case EmptyQueryResponse.typeCode: roundTrip(EmptyQueryResponse.self, body)
    case ParseComplete.typeCode: roundTrip(ParseComplete.self, body)
    case BindComplete.typeCode: roundTrip(BindComplete.self, body)
    case CloseComplete.typeCode: roundTrip(CloseComplete.self, body)
    case NoData.typeCode: roundTrip(NoData.self, body)
    case PortalSuspended.typeCode: roundTrip(PortalSuspended.self, body)
    case ParameterDescription.typeCode: roundTrip(ParameterDescription.self, body)
    case RowDescription.typeCode: roundTrip(RowDescription.self, body)
    case DataRow.typeCode: roundTrip(DataRow.self, body)
    case NotificationResponse.typeCode: roundTrip(NotificationResponse.self, body)
    case NegotiateProtocolVersion.typeCode: roundTrip(NegotiateProtocolVersion.self, body)
    case CopyInResponse.typeCode: roundTrip(CopyInResponse.self, body)
    case CopyOutResponse.typeCode: roundTrip(CopyOutResponse.self, body)
    case CopyBothResponse.typeCode: roundTrip(CopyBothResponse.self, body)
    case ErrorResponse.typeCode:
        roundTrip(ErrorResponse.self, body)
        if let error = try? ErrorResponse.decode(body: body) { _ = (error.code, error.severity, error.message) }
    case NoticeResponse.typeCode: roundTrip(NoticeResponse.self, body)
    case CopyData.typeCode: roundTrip(CopyData.self, body)
    case CopyDone.typeCode: roundTrip(CopyDone.self, body)
    default:
        for decoder in allBackend { _ = try? decoder.decode(body: body) }
    }
}

private let allBackend: [any WireMessage.Type] = [
    Authentication.self, ParameterStatus.self, BackendKeyData.self, ReadyForQuery.self, CommandComplete.self,
    EmptyQueryResponse.self, ParseComplete.self, BindComplete.self, CloseComplete.self, NoData.self,
    PortalSuspended.self, ParameterDescription.self, RowDescription.self, DataRow.self, NotificationResponse.self,
    NegotiateProtocolVersion.self, CopyInResponse.self, CopyOutResponse.self, CopyBothResponse.self,
    ErrorResponse.self, NoticeResponse.self, CopyData.self, CopyDone.self,
]
