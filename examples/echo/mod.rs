//! The echo service of spec §10.2, shared by the `echo_server`, `echo_client` and `echo_demo`
//! examples: the command-line arguments and the body of each program.

pub(crate) mod client;
pub(crate) mod server;
