// swift-tools-version:6.1
// Sluice: a connection-pooling proxy for serverless PostgreSQL.
import PackageDescription

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibpq", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .target(name: "CSluiceShim"),
        .target(name: "PostgresWire", dependencies: ["COpenSSL"]),
        .target(name: "SluiceIO", dependencies: ["COpenSSL", "CSluiceShim"]),
        .target(name: "SluiceConfig", dependencies: [
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        .target(name: "SluiceCore", dependencies: [
            "PostgresWire", "SluiceIO", "SluiceConfig",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SluiceAdmin", dependencies: ["SluiceCore"]),
        .executableTarget(name: "sluice", dependencies: [
            "SluiceCore", "SluiceAdmin", "SluiceIO", "PostgresWire", "SluiceConfig",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "PostgresWireTests", dependencies: ["PostgresWire"]),
        .testTarget(name: "SluiceIOTests", dependencies: ["SluiceIO"]),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore", "PostgresWire"]),
        .testTarget(name: "SluiceConfigTests", dependencies: ["SluiceConfig"]),
    ],
    // Loop-confined objects (DESIGN.md: one event loop owns its objects) are not Sendable by
    // construction; Swift 5 mode keeps concurrency checking to warnings for them.
    swiftLanguageModes: [.v5]
)
