//! The echo client program: sends each message as an `echo` call and prints the answer.

use std::path::PathBuf;
use std::time::Duration;

use fifo_rpc_client::{ClientConfig, ClientError};

/// Call the FIFO-RPC/1 echo service in a directory.
#[derive(clap::Args, Debug)]
pub(crate) struct ClientArgs {
    /// Service directory of the server.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Milliseconds to wait for the server to appear (and for each answer).
    #[arg(long, default_value_t = 5000)]
    pub(crate) timeout_ms: u64,
    /// Messages to echo; `exit` stops the server. Default: `msg 1` .. `msg 10`, then `exit`.
    pub(crate) messages: Vec<String>,
}

/// Connects, echoes every message (printing `sent:` and `received:` lines) and handles `exit`.
pub(crate) fn run(args: ClientArgs) -> Result<(), ClientError> {
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
