//! The echo client of spec §10.2: sends each message as an `echo` call and prints the answer.
//!
//! ```sh
//! cargo run --example echo_server -- --dir /run/user/$UID/echo &
//! cargo run --example echo_client -- --dir /run/user/$UID/echo hello exit
//! ```
//!
//! prints
//!
//! ```text
//! sent: hello
//! received: hello
//! server exited
//! ```
//!
//! It waits up to `--timeout-ms` (default 5000) for the server to appear. A message `exit` asks
//! the server to stop (FR-EXIT-1) and prints `server exited` once it has acknowledged. Without
//! messages it sends `msg 1` to `msg 10`, then `exit`. Exit status 0 on success; otherwise one
//! line on stderr saying what went wrong (no server within the timeout, the server gone in the
//! middle of a call, ...) and a non-zero status.
//!
//! Optional flags, shared with the Python client for the interop checks: `--method NAME` calls
//! another method (an ERROR answer is one line on stderr and status 1), `--message-file PATH`
//! sends a file's text as one more message (for messages too large for a command line),
//! `--in-flight N` keeps up to N calls outstanding at once, and `--repeat K` sends each message K
//! times. See `--help`. The program itself is in
//! `examples/echo/client.rs`, shared with `echo_demo`.

#[path = "echo/client.rs"]
mod client;

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(version, about = "Call the FIFO-RPC/1 echo service in a directory")]
struct Cli {
    #[command(flatten)]
    args: client::ClientArgs,
}

fn main() -> ExitCode {
    match client::run(Cli::parse().args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_client: {e}");
            ExitCode::FAILURE
        }
    }
}
