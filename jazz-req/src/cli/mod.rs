//! The `jazz-req` command line: argument parsing (clap) and one module per subcommand.
//!
//! Each subcommand is a clap `Args`/`Subcommand` type that implements [`Run`]. To add one,
//! write its module, declare it below and add one line to the `subcommands!` list.

mod account;
mod auth_token;
mod error;
mod inspect;
mod secret;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

pub use error::CliError;

/// A subcommand: does its work and prints its result to `out`.
pub trait Run {
    /// Runs the subcommand.
    ///
    /// # Errors
    /// Whatever stops it; `main` prints it on stderr and exits non-zero.
    fn run(self, out: &mut dyn Write) -> Result<(), CliError>;
}

/// Declares [`Command`], one variant per subcommand, and dispatches [`Run`] to them.
macro_rules! subcommands {
    ($( $(#[$meta:meta])* $variant:ident($args:ty), )+) => {
        /// The subcommands of `jazz-req`.
        #[derive(Debug, clap::Subcommand)]
        pub enum Command {
            $( $(#[$meta])* $variant($args), )+
        }

        impl Run for Command {
            fn run(self, out: &mut dyn Write) -> Result<(), CliError> {
                match self {
                    $( Self::$variant(command) => command.run(out), )+
                }
            }
        }
    };
}

subcommands! {
    /// Create worker accounts and show who an agent secret is.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Print an auth token (`Authorization: Jazz <token>`) for the account of an agent secret.
    AuthToken(auth_token::AuthTokenArgs),
    /// Verify and decrypt a captured request body as a worker; exits 1 when it is not valid.
    Inspect(inspect::InspectArgs),
}

/// HTTP requests with server workers for Jazz apps: worker accounts and auth tokens,
/// compatible with jazz-tools 0.20.
#[derive(Debug, Parser)]
#[command(name = "jazz-req", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Parses the command line, runs the subcommand and turns its outcome into an exit code:
/// 0 on success, 1 with a message on stderr on failure, 2 on a usage error.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with code 0; usage errors to stderr with 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let mut out = std::io::stdout().lock();
    let result = cli
        .command
        .run(&mut out)
        .and_then(|()| out.flush().map_err(|source| CliError::Output { source }));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("jazz-req: {}", error.chain());
            ExitCode::FAILURE
        }
    }
}
