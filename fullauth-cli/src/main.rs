//! The `fullauth` command (work in progress).
fn main() {}
