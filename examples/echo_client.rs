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

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use fifo_rpc_client::{ClientConfig, ClientError};

/// Call the FIFO-RPC/1 echo service in a directory.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Service directory of the server.
    #[arg(long)]
    dir: PathBuf,
    /// Milliseconds to wait for the server to appear (and for each answer).
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Messages to echo; `exit` stops the server. Default: `msg 1` .. `msg 10`, then `exit`.
    messages: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), ClientError> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let client = ClientConfig::default()
        .connect_timeout(timeout)
        .call_timeout(Some(timeout.max(Duration::from_secs(1))))
        .connect(&args.dir)?;
    let messages = if args.messages.is_empty() {
        let mut default: Vec<String> = (1..=10).map(|i| format!("msg {i}")).collect();
        default.push("exit".to_owned());
        default
    } else {
        args.messages
    };
    for message in messages {
        if message == "exit" {
            client.exit()?;
            println!("server exited");
        } else {
            println!("sent: {message}");
            let reply: String = client.call("echo", &message)?;
            println!("received: {reply}");
        }
    }
    Ok(())
}
