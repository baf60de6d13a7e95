// Entry: the process entry point for SwiftPM's build of FuzzSCRAMServer (see FuzzSupport.runFuzzerDriver).
import FuzzSupport

@_cdecl("FuzzSCRAMServer_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzerDriver(argc, argv) { data, size in fuzz(data, size) }
}
