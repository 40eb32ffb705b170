//! The `fullauth` command; see the `fullauth_cli` library for what it does.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = fullauth_cli::Cli::parse();
    std::process::ExitCode::from(fullauth_cli::run(cli))
}
