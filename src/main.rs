//! The `rootdesk` binary: parse the command line, run it, map the outcome to an exit status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rootdesk::cli::Cli::parse();
    match cli.run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rootdesk: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
