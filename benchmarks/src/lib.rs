//! The throughput benchmark of the fullauth stores lives in
//! `benches/throughput.rs`; run it with
//!
//! ```sh
//! cargo bench -p fullauth-benchmarks -- --help
//! ```
//!
//! This library is empty: the package exists to hold the benchmark and its
//! dependencies on every backend.
