//! The echo server of spec §10.2: `echo` returns its string, `fail` answers ERROR 1000 with it,
//! `exit` answers and then shuts the server down gracefully.
//!
//! ```sh
//! cargo run --example echo_server -- --dir /run/user/$UID/echo
//! ```
//!
//! It creates the directory if needed, prints `listening on DIR` once a client can connect, and
//! serves until `exit`, SIGINT or SIGTERM; then it removes its FIFOs and lock files and exits 0.
//! Problems while serving (bytes that are not frames, a panicking handler) are reported on
//! stderr; a failure to start is one line on stderr and a non-zero exit status. The program
//! itself is in `examples/echo/server.rs`, shared with `echo_demo`.

#[path = "echo/server.rs"]
mod server;

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(version, about = "Serve the FIFO-RPC/1 echo service in a directory")]
struct Cli {
    #[command(flatten)]
    args: server::ServerArgs,
}

fn main() -> ExitCode {
    match server::run(&Cli::parse().args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}
