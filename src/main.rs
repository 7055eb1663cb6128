//! The `relay-shell` binary: parse the command line, pick a verb, run it.

fn main() {}
