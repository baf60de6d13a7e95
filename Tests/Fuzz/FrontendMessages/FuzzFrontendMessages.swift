// FuzzFrontendMessages: libFuzzer target: MessageDecoder fed in chunks, every frontend message decoded by type.
import FuzzSupport
import PostgresWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzMessageStream(data, size, decode: decodeFrontend)
    return 0
}

private func decodeFrontend(type: UInt8, body: ArraySlice<UInt8>) {
    switch type {
    case Query.typeCode: roundTrip(Query.self, body)
    case Parse.typeCode: roundTrip(Parse.self, body)
    case Bind.typeCode: roundTrip(Bind.self, body)
    case Describe.typeCode: roundTrip(Describe.self, body)
    case Execute.typeCode: roundTrip(Execute.self, body)
    case Close.typeCode: roundTrip(Close.self, body)
    case Sync.typeCode: roundTrip(Sync.self, body)
    case Flush.typeCode: roundTrip(Flush.self, body)
    case Terminate.typeCode: roundTrip(Terminate.self, body)
    case CopyData.typeCode: roundTrip(CopyData.self, body)
    case CopyDone.typeCode: roundTrip(CopyDone.self, body)
    case CopyFail.typeCode: roundTrip(CopyFail.self, body)
    case PasswordMessage.typeCode:
        roundTrip(PasswordMessage.self, body)
        roundTrip(SASLInitialResponse.self, body)
        roundTrip(SASLResponse.self, body)
    default:
        // Unknown types: every frontend decoder must still only throw.
        for decoder in allFrontend { _ = try? decoder.decode(body: body) }
    }
}

private let allFrontend: [any WireMessage.Type] = [
    Query.self, Parse.self, Bind.self, Describe.self, Execute.self, Close.self, Sync.self, Flush.self,
    Terminate.self, CopyData.self, CopyDone.self, CopyFail.self, PasswordMessage.self,
    SASLInitialResponse.self, SASLResponse.self,
]
