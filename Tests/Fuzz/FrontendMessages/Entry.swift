// Entry: the process entry point for SwiftPM's build of FuzzFrontendMessages.
//
// SwiftPM links executables with `--defsym main=FuzzFrontendMessages_main` (the module's entry point is
// renamed so tests can link it); with -parse-as-library there is no such function, so this file
// provides it and hands control to libFuzzer's driver, which calls LLVMFuzzerTestOneInput.

/// libFuzzer's `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *, size_t))`.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("FuzzFrontendMessages_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    return runFuzzerDriver(&count, &vector) { data, size in fuzz(data, size) }
}
