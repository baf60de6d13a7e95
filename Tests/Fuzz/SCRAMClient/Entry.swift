// Entry: the process entry point for SwiftPM's build of FuzzSCRAMClient (see FuzzSupport.runFuzzerDriver).
import FuzzSupport

@_cdecl("FuzzSCRAMClient_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzerDriver(argc, argv) { data, size in fuzz(data, size) }
}
