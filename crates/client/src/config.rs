//! [`ClientConfig`]: how long to wait, how to wait, and the limits a client advertises.

use std::path::Path;
use std::time::Duration;

use crate::{Client, ClientError};

/// Settings of a [`Client`], built from [`ClientConfig::default`] with chained setters.
///
/// ```
/// use std::time::Duration;
/// use fifo_rpc_client::ClientConfig;
///
/// let config = ClientConfig::default()
///     .connect_timeout(Duration::from_secs(2))
///     .call_timeout(Some(Duration::from_millis(500)))
///     .spin(Duration::ZERO); // never spin: lowest CPU use, slower round trips
/// assert_eq!(config.get_connect_timeout(), Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) spin: Duration,
    pub(crate) max_message: u32,
    pub(crate) max_frame: Option<usize>,
    pub(crate) encoding: String,
    pub(crate) server_uid: Option<u32>,
    pub(crate) pipe_size: Option<usize>,
}

impl Default for ClientConfig {
    /// Connect timeout 5 s, call timeout 30 s, spin 50 µs, Max Message 64 MiB, MaxFrame
    /// `PIPE_BUF`, encoding `bincode1`, the server's uid expected to be the effective uid.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            call_timeout: Some(Duration::from_secs(30)),
            spin: Duration::from_micros(50),
            max_message: 64 << 20,
            max_frame: None,
            encoding: "bincode1".to_owned(),
            server_uid: None,
            pipe_size: None,
        }
    }
}

impl ClientConfig {
    /// How long [`Client::connect`] and [`Client::reconnect`] wait, in total, for the server's
    /// files, a free `client.lock`, the server's read end and its WELCOME (spec §9.4).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The timeout of calls made without an explicit one ([`Client::call`],
    /// [`Client::call_raw`]); `None` waits until the answer comes or the server goes away.
    /// A call that times out is cancelled (CANCEL is sent) and its late answer discarded.
    pub fn call_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// How long a waiting caller polls `pipe.out` without sleeping before it sleeps in `poll(2)`
    /// (FR-FIFO-11 allows a bounded spin).
    ///
    /// Waking a sleeping thread on another CPU costs tens of microseconds, much more than a
    /// small round trip itself; a caller that keeps the CPU for a short while catches a fast
    /// answer without that cost. The price is CPU time: each call that waits longer than the
    /// spin burns up to this much CPU first. `Duration::ZERO` disables spinning (lowest CPU
    /// use, for clients whose calls take long anyway); the default, 50 µs, covers a round trip
    /// to a server that answers at once. The spin yields the CPU on every round, so a server on
    /// the same CPU is not starved.
    pub fn spin(mut self, spin: Duration) -> Self {
        self.spin = spin;
        self
    }

    /// The largest reassembled answer the client accepts, advertised in HELLO (at least 4096).
    /// A larger answer fails its call with a protocol error.
    pub fn max_message(mut self, bytes: u32) -> Self {
        self.max_message = bytes;
        self
    }

    /// The local MaxFrame (FR-FRAME-6): `None` (the default) uses `PIPE_BUF` of the FIFOs (at
    /// most 65535); a value is clamped to `512..=PIPE_BUF`.
    pub fn max_frame(mut self, bytes: Option<usize>) -> Self {
        self.max_frame = bytes;
        self
    }

    /// The body encoding named in HELLO (spec §10), `"bincode1"` by default. The typed
    /// [`Client::call`] always encodes with `bincode1`; use [`Client::call_raw`] for others.
    pub fn encoding(mut self, encoding: impl Into<String>) -> Self {
        self.encoding = encoding.into();
        self
    }

    /// The uid that must own the service directory and its files (FR-FIFO-3); `None`, the
    /// default, expects the effective uid.
    pub fn server_uid(mut self, uid: Option<u32>) -> Self {
        self.server_uid = uid;
        self
    }

    /// Asks the kernel for a `pipe.out` capacity of at least this many octets after connecting
    /// (Linux `F_SETPIPE_SZ`); larger pipes help throughput of big answers. A refusal is ignored.
    /// `None` (the default) leaves the size the server chose (a fifo-rpc server asks for 1 MiB
    /// unless told otherwise).
    pub fn pipe_size(mut self, bytes: Option<usize>) -> Self {
        self.pipe_size = bytes;
        self
    }

    /// The connect timeout.
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The default call timeout.
    pub fn get_call_timeout(&self) -> Option<Duration> {
        self.call_timeout
    }

    /// The spin time.
    pub fn get_spin(&self) -> Duration {
        self.spin
    }

    /// Connects to the service in `dir` with this configuration: short for
    /// [`Client::connect(dir, self)`](Client::connect).
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub fn connect(self, dir: impl AsRef<Path>) -> Result<Client, ClientError> {
        Client::connect(dir, self)
    }
}
