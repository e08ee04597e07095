//! The classic FIFO echo demo in one command: an echo server and an echo client as two separate
//! processes, in a fresh temporary directory that is left empty at the end.
//!
//! ```sh
//! cargo run --example echo_demo
//! ```
//!
//! The program runs itself twice more, once as the server (`echo_demo server --dir DIR`, the
//! same program as the `echo_server` example) and once as the client (`echo_demo client --dir
//! DIR`, as `echo_client`), relays their output with a prefix, and checks that the server exited
//! 0 and removed its FIFOs and lock files.

mod echo;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread::JoinHandle;

use clap::{Parser, Subcommand};

/// Run the FIFO-RPC/1 echo demo: a server and a client process over a pair of FIFOs.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    role: Option<Role>,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// Run only the server half (what the demo starts as its first process).
    Server(echo::server::ServerArgs),
    /// Run only the client half (what the demo starts as its second process).
    Client(echo::client::ClientArgs),
}

fn main() -> ExitCode {
    let result = match Args::parse().role {
        None => demo(),
        Some(Role::Server(args)) => echo::server::run(&args),
        Some(Role::Client(args)) => echo::client::run(args).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::Builder::new().prefix("fifo-rpc-demo").tempdir()?;
    let dir = tmp.path().join("echo");
    println!("[demo]   service directory {}", dir.display());

    let mut server = spawn_role("server", &dir)?;
    let server_out = server.stdout.take().ok_or("no server stdout")?;
    let mut server_lines = BufReader::new(server_out).lines();
    // The server says when a client can connect; only then is the client started (a client
    // started first would simply wait for the server: the order does not matter).
    match server_lines.next() {
        Some(line) => println!("[server] {}", line?),
        None => return Err(fail(&mut server, "the server stopped before it was ready")),
    }
    let server_relay = relay("server", server_lines);

    let mut client = spawn_role("client", &dir)?;
    let client_out = client.stdout.take().ok_or("no client stdout")?;
    let client_relay = relay("client", BufReader::new(client_out).lines());

    let client_status = client.wait()?;
    let _ = client_relay.join();
    println!("[client] exited with {client_status}");
    let server_status = server.wait()?;
    let _ = server_relay.join();
    println!("[server] exited with {server_status}");
    if !client_status.success() || !server_status.success() {
        return Err("the demo failed: see the messages above".into());
    }

    let left: Vec<_> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    if !left.is_empty() {
        return Err(format!("files left in {}: {left:?}", dir.display()).into());
    }
    println!(
        "[demo]   {} is empty: no FIFO or lock file left behind",
        dir.display()
    );
    Ok(())
}

/// Starts this program again in one role, with stdout piped to the demo and stderr inherited.
fn spawn_role(role: &str, dir: &Path) -> std::io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .arg(role)
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
}

/// Copies a child's output lines to ours with a prefix, on a thread.
fn relay<I>(name: &'static str, lines: I) -> JoinHandle<()>
where
    I: Iterator<Item = std::io::Result<String>> + Send + 'static,
{
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            println!("[{name}] {line}");
        }
    })
}

fn fail(child: &mut Child, what: &str) -> Box<dyn std::error::Error> {
    let _ = child.kill();
    let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
    format!("{what} ({status})").into()
}
