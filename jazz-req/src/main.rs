//! The `jazz-req` command line tool: create worker accounts (like `npx jazz-run account
//! create`), show who an agent secret is, and make auth tokens. Run `jazz-req --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
