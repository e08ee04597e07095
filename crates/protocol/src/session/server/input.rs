//! The spec §13.1 receiver for `pipe.in`, keeping the frame header of a payload error.
//!
//! [`Receiver`](crate::Receiver) reports `MALFORMED_PAYLOAD` without the Session and Request IDs
//! of the message, but a server must answer a malformed REQUEST of its session with ERROR
//! `BAD_REQUEST` (FR-CALL-6). This is the same decoder, reassembler and payload parser, applied in
//! the same order as the receiver's, with one more output: [`Input::BadPayload`]. A test checks
//! that it yields exactly the receiver's events on every case of `spec/vectors/`.

use std::borrow::Cow;
use std::collections::VecDeque;

use crate::{
    frame_type, Event, FrameDecoder, FrameHeader, FrameRef, Message, ProtocolError, Reassembled,
    Reassembler, ReceiverConfig, MAX_FRAME_LIMIT,
};

/// What the receiver made of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Input {
    /// As [`Receiver::poll_event`](crate::Receiver::poll_event).
    Event(Event),
    /// A complete message whose payload breaks its type's layout (FR-TYPE-4), with its header.
    BadPayload {
        session: u32,
        request: u32,
        frame_type: u8,
        error: ProtocolError,
    },
}

/// Decoder (§5), reassembler (§7) and payload parser (§6); see the module docs.
#[derive(Debug, Clone)]
pub(super) struct InputReceiver {
    decoder: FrameDecoder,
    reassembler: Reassembler,
    pending: VecDeque<Input>,
    eof: bool,
}

impl InputReceiver {
    pub(super) fn new(config: ReceiverConfig) -> Self {
        Self {
            decoder: FrameDecoder::new(config.max_frame.min(MAX_FRAME_LIMIT)),
            reassembler: Reassembler::new(config.max_message, config.max_partial),
            pending: VecDeque::new(),
            eof: false,
        }
    }

    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
    }

    pub(super) fn poll(&mut self) -> Option<Input> {
        if let Some(input) = self.pending.pop_front() {
            return Some(input);
        }
        loop {
            let frame = match self.decoder.decode() {
                Some(Ok(frame)) => frame,
                Some(Err(err)) => return Some(Input::Event(Event::Error(err))),
                None => break,
            };
            if let Some(input) = handle_frame(&mut self.reassembler, &mut self.pending, frame) {
                return Some(input);
            }
        }
        if self.eof {
            self.eof = false;
            if let Some(err) = self.decoder.finish() {
                self.pending.push_back(Input::Event(Event::Error(err)));
            }
            let truncated = self.reassembler.finish().into_iter();
            self.pending
                .extend(truncated.map(|e| Input::Event(Event::Error(e))));
            return self.pending.pop_front();
        }
        None
    }

    /// End of stream: the end-of-stream errors follow the events of the bytes already pushed.
    pub(super) fn finish(&mut self) {
        self.eof = true;
    }

    /// FR-DEC-7: gives up an incomplete candidate frame once `pipe.in` is drained.
    pub(super) fn abandon_partial(&mut self) -> bool {
        match self.decoder.abandon_partial() {
            Some(err) => {
                self.pending.push_back(Input::Event(Event::Error(err)));
                true
            }
            None => false,
        }
    }

    pub(super) fn reset(&mut self) {
        self.decoder.reset();
        self.reassembler.clear();
        self.pending.clear();
        self.eof = false;
    }

    pub(super) fn drop_session(&mut self, session: u32) {
        self.reassembler.drop_session(session);
    }
}

/// The receiver's per-frame rules, in its order: FR-TYPE-2, FR-TYPE-3, FR-FRAME-14, then
/// reassembly (§7) and FR-TYPE-4.
fn handle_frame(
    reassembler: &mut Reassembler,
    pending: &mut VecDeque<Input>,
    frame: FrameRef<'_>,
) -> Option<Input> {
    let header = frame.header;
    let t = header.frame_type;
    if frame_type::is_ignorable(t) {
        return Some(Input::Event(Event::Ignored { frame_type: t }));
    }
    if !frame_type::request_id_ok(t, header.request) {
        let error = ProtocolError::BadRequestId {
            frame_type: t,
            request: header.request,
        };
        return Some(Input::Event(Event::Error(error)));
    }
    let payload = if frame_type::is_fragmentable(t) {
        match reassembler.push(&header, frame.payload) {
            Reassembled::Complete(payload) => payload,
            Reassembled::Incomplete => return None,
            Reassembled::Refused { error, last } => {
                if last {
                    pending.push_back(discarded(&header));
                }
                return Some(Input::Event(Event::Error(error)));
            }
            Reassembled::DiscardEnd => return Some(discarded(&header)),
        }
    } else if header.more() {
        let error = ProtocolError::UnexpectedFragment { frame_type: t };
        return Some(Input::Event(Event::Error(error)));
    } else {
        Cow::Borrowed(frame.payload)
    };
    Some(match Message::parse_cow(t, header.request, payload) {
        Ok(message) => Input::Event(Event::Message {
            session: header.session,
            message,
        }),
        Err(error) => Input::BadPayload {
            session: header.session,
            request: header.request,
            frame_type: t,
            error,
        },
    })
}

fn discarded(header: &FrameHeader) -> Input {
    Input::Event(Event::MessageDiscarded {
        session: header.session,
        request: header.request,
        frame_type: header.frame_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Receiver;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Runs `bytes` through the crate's Receiver and through InputReceiver, with `BadPayload`
    /// mapped back to the receiver's error.
    fn both(
        cfg: ReceiverConfig,
        bytes: &[u8],
        eof: bool,
        split: usize,
    ) -> (Vec<Event>, Vec<Event>) {
        let mut rx = Receiver::new(cfg);
        let mut input = InputReceiver::new(cfg);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for chunk in bytes.chunks(split.max(1)) {
            rx.push(chunk);
            input.push(chunk);
            a.extend(std::iter::from_fn(|| rx.poll_event()));
            b.extend(std::iter::from_fn(|| input.poll()).map(|i| match i {
                Input::Event(e) => e,
                Input::BadPayload { error, .. } => Event::Error(error),
            }));
        }
        if eof {
            rx.finish();
            input.finish();
            a.extend(std::iter::from_fn(|| rx.poll_event()));
            b.extend(std::iter::from_fn(|| input.poll()).map(|i| match i {
                Input::Event(e) => e,
                Input::BadPayload { error, .. } => Event::Error(error),
            }));
        }
        (a, b)
    }

    // FR-DEC-1, FR-CALL-6: InputReceiver yields exactly the Receiver's events on every vector
    // case, whole and one octet at a time.
    #[test]
    fn same_events_as_the_receiver_on_every_vector() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/vectors");
        let mut cases = 0;
        for file in ["valid.json", "invalid.json", "streams.json"] {
            let text = std::fs::read_to_string(dir.join(file)).expect("vector file");
            let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
            let defaults = &doc["defaults"];
            for case in doc["cases"].as_array().expect("cases") {
                let num = |k: &str| case[k].as_u64().or(defaults[k].as_u64());
                let cfg = ReceiverConfig {
                    max_frame: num("max_frame").unwrap_or(4096) as usize,
                    max_message: num("max_message").unwrap_or(1 << 24) as u32,
                    max_partial: 1024,
                };
                let bytes = hex(case["hex"].as_str().expect("hex"));
                let eof = case["eof"].as_bool().unwrap_or(true);
                for split in [bytes.len(), 1] {
                    let (a, b) = both(cfg, &bytes, eof, split);
                    assert_eq!(a, b, "case {}", case["id"]);
                }
                cases += 1;
            }
        }
        assert!(cases > 100, "the vectors were found ({cases} cases)");
    }
}
