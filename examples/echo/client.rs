//! The echo client program: sends each message as an `echo` call (or `--method`) and prints the
//! answer; optionally a message read from a file, several calls in flight, each message repeated.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use fifo_rpc_client::{Client, ClientConfig, ClientError};
use fifo_rpc_protocol::payload;

/// Bound on an encoded or decoded body; the server's and the client's max message apply first.
const BODY_LIMIT: u64 = u32::MAX as u64;

/// Call the FIFO-RPC/1 echo service in a directory.
#[derive(clap::Args, Debug)]
pub(crate) struct ClientArgs {
    /// Service directory of the server.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Milliseconds to wait for the server to appear (and for each answer).
    #[arg(long, default_value_t = 5000)]
    pub(crate) timeout_ms: u64,
    /// Method to call for each message instead of `echo` (the body is still the bincode1
    /// string). With `fail` the echo server answers ERROR 1000: the client prints one line on
    /// stderr with the code and the message and exits 1. A message `exit` still calls `exit`.
    #[arg(long, value_name = "NAME", default_value = "echo")]
    pub(crate) method: String,
    /// A file whose contents (UTF-8 text) are one more message, sent before the MSG arguments.
    /// Printed as `sent: <N> bytes from PATH` and `received: <N> bytes, identical`; a reply that
    /// differs is an error. For messages larger than an argument may be (128 KiB).
    #[arg(long, value_name = "PATH")]
    pub(crate) message_file: Option<PathBuf>,
    /// Calls in flight at a time: the messages are sent in batches of up to N calls, and a
    /// batch's `sent:`/`received:` lines are printed in message order once all its answers
    /// arrived. With N > 1 every reply must equal its own request (an error otherwise).
    /// `exit` waits for the calls before it.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) in_flight: u32,
    /// Send each message (not `exit`) K times in a row.
    #[arg(long, value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) repeat: u32,
    /// Messages to echo; `exit` stops the server. Default (no MSG and no --message-file):
    /// `msg 1` .. `msg 10`, then `exit`.
    #[arg(value_name = "MSG")]
    pub(crate) messages: Vec<String>,
}

/// One message to send: its text and, for `--message-file`, where it came from.
struct Item {
    text: String,
    file: Option<PathBuf>,
}

impl Item {
    fn sent_line(&self) -> String {
        match &self.file {
            Some(path) => format!("sent: {} bytes from {}", self.text.len(), path.display()),
            None => format!("sent: {}", self.text),
        }
    }

    /// The `received:` line for `reply`, or an error if the reply must match and does not.
    fn received_line(&self, reply: &str, must_match: bool) -> Result<String, Failure> {
        let (sent, got) = (self.text.len(), reply.len());
        match &self.file {
            Some(_) if reply == self.text => Ok(format!("received: {got} bytes, identical")),
            Some(path) => Err(Failure(format!(
                "the reply to the message from {} differs from it ({sent} bytes sent, {got} \
                 bytes received)",
                path.display()
            ))),
            None if must_match && reply != self.text => Err(Failure(format!(
                "the reply to {:?} differs from it: {reply:?}; calls in flight were mixed up",
                self.text
            ))),
            None => Ok(format!("received: {reply}")),
        }
    }
}

/// What the client does, in order: a call (an index into the items) or `exit`.
enum Step {
    Call(usize),
    Exit,
}

/// Connects, sends every message (printing `sent:` and `received:` lines) and handles `exit`.
pub(crate) fn run(args: ClientArgs) -> Result<(), Failure> {
    let (items, steps) = plan(&args)?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let client = ClientConfig::default()
        .connect_timeout(timeout)
        .call_timeout(Some(timeout.max(Duration::from_secs(1))))
        .connect(&args.dir)?;
    let in_flight = args.in_flight as usize;
    let must_match = in_flight > 1;
    let mut batch = Vec::with_capacity(in_flight);
    for step in steps {
        match step {
            Step::Call(i) => {
                batch.push(&items[i]);
                if batch.len() == in_flight {
                    run_batch(&client, &args.method, &batch, must_match)?;
                    batch.clear();
                }
            }
            Step::Exit => {
                run_batch(&client, &args.method, &batch, must_match)?;
                batch.clear();
                client.exit()?;
                println!("server exited");
            }
        }
    }
    run_batch(&client, &args.method, &batch, must_match)
}

/// The messages (each once) and the steps (each message `--repeat` times, `exit` once).
fn plan(args: &ClientArgs) -> Result<(Vec<Item>, Vec<Step>), Failure> {
    let mut items = Vec::new();
    if let Some(path) = &args.message_file {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the message file {}: {e}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| format!("the message file {} is not UTF-8 text: {e}", path.display()))?;
        items.push(Some(Item {
            text,
            file: Some(path.clone()),
        }));
    }
    if args.messages.is_empty() && args.message_file.is_none() {
        let default = (1..=10).map(|i| format!("msg {i}"));
        items.extend(default.map(|text| Some(Item { text, file: None })));
        items.push(None);
    }
    for text in &args.messages {
        let text = text.clone();
        items.push((text != "exit").then_some(Item { text, file: None }));
    }
    // `None` is `exit`; the calls name their item by index.
    let mut steps = Vec::new();
    let mut calls = Vec::new();
    for item in items {
        match item {
            Some(item) => {
                steps.extend((0..args.repeat).map(|_| Step::Call(calls.len())));
                calls.push(item);
            }
            None => steps.push(Step::Exit),
        }
    }
    Ok((calls, steps))
}

/// Sends a batch of calls at once, waits for all the answers, then prints them in order.
fn run_batch(
    client: &Client,
    method: &str,
    batch: &[&Item],
    must_match: bool,
) -> Result<(), Failure> {
    if let [item] = batch {
        println!("{}", item.sent_line());
        let reply: String = client.call(method, &item.text)?;
        println!("{}", item.received_line(&reply, must_match)?);
        return Ok(());
    }
    let mut pending = Vec::with_capacity(batch.len());
    let mut failed = None;
    for item in batch {
        let sent = payload::encode(&item.text, BODY_LIMIT)
            .map_err(ClientError::from)
            .and_then(|body| client.send_raw(method, &body));
        match sent {
            Ok(call) => pending.push(call),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    if failed.is_none() {
        if let Err(e) = client.flush() {
            pending.clear(); // dropping them cancels the calls
            failed = Some(e);
        }
    }
    let answers: Vec<_> = pending.into_iter().map(|call| call.wait()).collect();
    let failed = failed.map(Err);
    for (item, answer) in batch.iter().zip(answers.into_iter().chain(failed)) {
        println!("{}", item.sent_line());
        let body = answer?;
        let reply: String = payload::decode(&body, BODY_LIMIT).map_err(ClientError::from)?;
        println!("{}", item.received_line(&reply, must_match)?);
    }
    Ok(())
}

/// Why the client failed: the one line it prints on stderr after the program's name. An ERROR
/// answer reads `the server answered with error CODE: MESSAGE`, as in the Python echo client.
#[derive(Debug)]
pub(crate) struct Failure(String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Remote { code, message, .. } => Failure(format!(
                "the server answered with error {}: {message}",
                code.0
            )),
            other => Failure(other.to_string()),
        }
    }
}

impl From<String> for Failure {
    fn from(text: String) -> Self {
        Failure(text)
    }
}
