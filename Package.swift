// swift-tools-version:6.1
// Sluice: a connection-pooling proxy for serverless PostgreSQL.
import PackageDescription
import Foundation

/// The relay's modules: release builds skip dynamic exclusivity checks (loop-confined state,
/// measured in Benchmarks/RESULTS.md); debug builds and tests keep them.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibpq", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .target(name: "CSluiceShim"),
        .target(name: "PostgresWire", dependencies: ["COpenSSL"]),
        .target(name: "SluiceIO", dependencies: ["COpenSSL", "CSluiceShim"], swiftSettings: hotPath),
        .target(name: "SluiceConfig", dependencies: [
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        .target(name: "SluiceCore", dependencies: [
            "PostgresWire", "SluiceIO", "SluiceConfig",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ], swiftSettings: hotPath),
        .target(name: "SluiceAdmin", dependencies: [
            "SluiceCore", "PostgresWire", "SluiceConfig",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "FlyingFox", package: "FlyingFox"),
        ]),
        .executableTarget(name: "sluice-bench", dependencies: [
            "CLibpq",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Benchmarks/SluiceBench"),
        .testTarget(name: "SluiceBenchTests", dependencies: ["sluice-bench"]),
        .target(name: "SluiceTools", dependencies: ["SluiceConfig", "CLibpq"]),
        .testTarget(name: "SluiceToolsTests", dependencies: ["SluiceTools", "SluiceConfig"]),
        .executableTarget(name: "sluice", dependencies: [
            "SluiceCore", "SluiceAdmin", "SluiceIO", "PostgresWire", "SluiceConfig", "SluiceTools",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "PostgresWireTests", dependencies: ["PostgresWire"]),
        .testTarget(name: "SluiceIOTests", dependencies: ["SluiceIO"]),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore", "PostgresWire"]),
        .testTarget(name: "SluiceConfigTests", dependencies: ["SluiceConfig"]),
        .testTarget(name: "SluiceAdminTests", dependencies: ["SluiceAdmin", "SluiceCore", "PostgresWire"]),
    ],
    // Loop-confined objects (docs/architecture.md: one event loop owns its objects) are not Sendable by
    // construction; Swift 5 mode keeps concurrency checking to warnings for them.
    swiftLanguageModes: [.v5]
)

// Fuzz targets: built only by scripts/fuzz (SLUICE_FUZZ=1), which links libFuzzer's main.
if ProcessInfo.processInfo.environment["SLUICE_FUZZ"] != nil {
    let fuzzFlags: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]
    package.targets += [
        .target(name: "FuzzSupport", dependencies: ["PostgresWire"], path: "Tests/Fuzz/Support"),
        .executableTarget(name: "FuzzStartupPacket", dependencies: ["FuzzSupport", "PostgresWire"],
                          path: "Tests/Fuzz/StartupPacket", swiftSettings: fuzzFlags),
        .executableTarget(name: "FuzzFrontendMessages", dependencies: ["FuzzSupport", "PostgresWire"],
                          path: "Tests/Fuzz/FrontendMessages", swiftSettings: fuzzFlags),
        .executableTarget(name: "FuzzBackendMessages", dependencies: ["FuzzSupport", "PostgresWire"],
                          path: "Tests/Fuzz/BackendMessages", swiftSettings: fuzzFlags),
        .executableTarget(name: "FuzzSCRAMServer", dependencies: ["FuzzSupport", "PostgresWire"],
                          path: "Tests/Fuzz/SCRAMServer", swiftSettings: fuzzFlags),
        .executableTarget(name: "FuzzSCRAMClient", dependencies: ["FuzzSupport", "PostgresWire"],
                          path: "Tests/Fuzz/SCRAMClient", swiftSettings: fuzzFlags),
        .executableTarget(name: "FuzzClientLogin", dependencies: ["FuzzSupport", "SluiceCore", "PostgresWire"],
                          path: "Tests/Fuzz/ClientLogin", swiftSettings: fuzzFlags),
    ]
    package.products += [
        "FuzzStartupPacket", "FuzzFrontendMessages", "FuzzBackendMessages",
        "FuzzSCRAMServer", "FuzzSCRAMClient", "FuzzClientLogin",
    ].map { .executable(name: $0, targets: [$0]) }
}

// Micro benchmarks (ordo-one/benchmark): built only by scripts/microbench (SLUICE_MICROBENCH=1),
// so the normal build never fetches the benchmark package. The target's path is Benchmarks/Micro
// (sources in its SluiceMicroBenchmarks/ folder): the benchmark plugins only take targets whose
// folder sits directly in Benchmarks/.
if ProcessInfo.processInfo.environment["SLUICE_MICROBENCH"] != nil {
    package.dependencies += [
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ]
    package.targets += [
        .executableTarget(name: "SluiceMicroBenchmarks", dependencies: [
            .product(name: "Benchmark", package: "benchmark"),
            "PostgresWire", "SluiceIO", "SluiceCore", "SluiceConfig", "SluiceAdmin",
            .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/Micro", exclude: ["README.md", "RESULTS-micro.md"],
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
}
