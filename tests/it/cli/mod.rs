//! The command-line client and the output formats of the CLI.

mod client;
mod golden;
