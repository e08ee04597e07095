//! Fuzz target `receiver`: input is `[max_frame: u16 BE, max_message / 16: u16 BE, max_partial: u8,
//! chunk seed: u8, stream ...]`.

use super::input::{chunks, Input};
use crate::frame::FRAME_OVERHEAD;
use crate::receiver::{Event, Receiver, ReceiverConfig};

fn receive_all<'a>(config: ReceiverConfig, pieces: impl Iterator<Item = &'a [u8]>) -> Vec<Event> {
    let mut rx = Receiver::new(config);
    let mut out = Vec::new();
    for piece in pieces {
        rx.push(piece);
        out.extend(std::iter::from_fn(|| rx.poll_event()));
    }
    rx.finish();
    out.extend(std::iter::from_fn(|| rx.poll_event()));
    out
}

pub(super) fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let config = ReceiverConfig {
        max_frame: usize::from(input.u16()).max(FRAME_OVERHEAD + 1),
        max_message: u32::from(input.u16()) * 16,
        max_partial: usize::from(input.u8() % 8),
    };
    let seed = input.u8();
    let stream = input.rest();

    let whole = receive_all(config, std::iter::once(stream));
    assert_eq!(
        receive_all(config, chunks(stream, seed)),
        whole,
        "FR-DEC-1: chunking changed the events"
    );
    assert_eq!(
        receive_all(config, stream.chunks(1)),
        whole,
        "FR-DEC-1: 1-octet chunks changed the events"
    );

    for event in &whole {
        let Event::Message { session, message } = event else {
            continue;
        };
        let mut wire = Vec::new();
        message
            .encode(*session, config.max_frame, &mut wire)
            .expect("a received message re-encodes");
        let again = receive_all(config, std::iter::once(&wire[..]));
        assert_eq!(
            again,
            std::slice::from_ref(event),
            "a re-encoded message is received unchanged"
        );
    }
}
