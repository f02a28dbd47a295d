//! The `hcctl` binary: parses the command line and runs it (see the library).
//! Every failure is one line on stderr, `hcctl: ...`; the exit status is 2
//! for a usage error (the command line is wrong) and 1 for a failure of the
//! work itself, an import with refused rows among them.

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
            return ExitCode::from(hcctl::failure::EXIT_USAGE);
        }
    };
    match hcctl::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("hcctl: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
