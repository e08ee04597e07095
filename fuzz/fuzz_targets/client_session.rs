#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fifo_rpc_protocol::fuzzing::client_session(data));
