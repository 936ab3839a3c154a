//! `ouro`: the Ouro command-line tool.
#![forbid(unsafe_code)]

fn main() {}
