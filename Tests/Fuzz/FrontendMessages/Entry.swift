// Entry: the process entry point for SwiftPM's build of FuzzFrontendMessages (see FuzzSupport.runFuzzerDriver).
import FuzzSupport

@_cdecl("FuzzFrontendMessages_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzerDriver(argc, argv) { data, size in fuzz(data, size) }
}
