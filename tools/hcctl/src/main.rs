//! The `hcctl` binary: parses the command line and runs it (see the library).
//! Every failure is one line on stderr, `hcctl: ...`, and exit code 1.

use std::process::ExitCode;

use clap::Parser;
use hcctl::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version.
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("hcctl: {}", hcctl::cli::one_line(&err));
            return ExitCode::FAILURE;
        }
    };
    match hcctl::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("hcctl: {failure}");
            ExitCode::FAILURE
        }
    }
}
