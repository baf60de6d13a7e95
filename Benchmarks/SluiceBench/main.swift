// main: entry point of sluice-bench, the libpq load generator for Sluice (see Benchmarks/README.md).
import Foundation

signal(SIGPIPE, SIG_IGN)
SluiceBench.main()
