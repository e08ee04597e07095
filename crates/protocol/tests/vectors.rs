//! Spec §13 conformance item 1: every case of `spec/vectors/*.json` (and of the local self-test file
//! `tests/vectors/*.json`) decodes to its expected events for the whole input, for every split into
//! two reads and for one-octet reads (FR-DEC-1); and the frames of each case encode to its `hex`
//! exactly, which `"encode": true` requires.

use std::path::{Path, PathBuf};

use fifo_rpc_protocol::{
    encode_extension, encode_frame, frame_type, Event, FrameHeader, Message, Receiver,
    ReceiverConfig, MAX_FRAME_LIMIT,
};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
struct VectorFile {
    defaults: Defaults,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Defaults {
    max_frame: usize,
    max_message: u32,
}

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    requirements: Vec<String>,
    hex: String,
    expect: Vec<Value>,
    max_frame: Option<usize>,
    max_message: Option<u32>,
    eof: Option<bool>,
    frames: Option<Vec<FrameSpec>>,
    encode: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct FrameSpec {
    version: u8,
    #[serde(rename = "type")]
    frame_type: u8,
    flags: u8,
    session: u32,
    request: u32,
    extensions: Vec<TypeValue>,
    payload: String,
}

#[derive(Debug, Deserialize)]
struct TypeValue {
    #[serde(rename = "type")]
    kind: u8,
    value: String,
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn options_json(options: &[fifo_rpc_protocol::HelloOption]) -> Value {
    options
        .iter()
        .map(|o| json!({"type": o.option_type, "value": hex(&o.value)}))
        .collect()
}

/// An event in the spec §13.1 notation; `None` for events the format does not list.
fn event_json(event: &Event) -> Option<Value> {
    Some(match event {
        Event::Error(err) | Event::MalformedMessage { error: err, .. } => {
            json!({ "error": err.name() })
        }
        Event::Ignored { frame_type } => json!({ "ignored": frame_type }),
        Event::MessageDiscarded { .. } => return None,
        Event::Message { session, message } => {
            let mut m = match message {
                Message::Hello(h) => json!({
                    "min_version": h.min_version, "max_version": h.max_version, "max_frame": h.max_frame,
                    "max_message": h.max_message, "client_pid": h.client_pid, "encoding": h.encoding,
                    "options": options_json(&h.options),
                }),
                Message::Welcome(w) => json!({
                    "version": w.version, "max_frame": w.max_frame, "max_message": w.max_message,
                    "max_in_flight": w.max_in_flight, "server_pid": w.server_pid,
                    "instance_id": format!("{:016x}", w.instance_id), "encoding": w.encoding,
                    "options": options_json(&w.options),
                }),
                Message::Request { call, .. } | Message::Notify { call } => {
                    json!({ "method": call.method(), "body": hex(call.body()) })
                }
                Message::Response { body, .. } => json!({ "body": hex(body) }),
                Message::Error {
                    code,
                    message,
                    details,
                    ..
                } => {
                    json!({ "code": code, "message": message, "details": hex(details) })
                }
                Message::Cancel { .. } => json!({}),
                Message::Ping { opaque } | Message::Pong { opaque } => {
                    json!({ "opaque": hex(opaque) })
                }
                Message::Goodbye(g) => {
                    json!({ "code": g.code, "last_request_id": g.last_request, "message": g.message })
                }
                other => panic!("no vector notation for {other:?}"),
            };
            let name = frame_type::name(message.frame_type()).expect("assigned type");
            let fields = m.as_object_mut().expect("object");
            fields.insert("type".into(), json!(name));
            fields.insert("session".into(), json!(session));
            fields.insert("request".into(), json!(message.request_id()));
            json!({ "message": m })
        }
        other => panic!("unexpected event {other:?}"),
    })
}

/// Feeds `pieces` to a fresh receiver and returns the events in vector notation.
fn receive(config: ReceiverConfig, pieces: &[&[u8]], eof: bool) -> Vec<Value> {
    let mut rx = Receiver::new(config);
    let mut events = Vec::new();
    for piece in pieces {
        rx.push(piece);
        events.extend(std::iter::from_fn(|| rx.poll_event()));
    }
    if eof {
        rx.finish();
        events.extend(std::iter::from_fn(|| rx.poll_event()));
    }
    events.iter().filter_map(event_json).collect()
}

fn check_case(file: &Path, defaults: &Defaults, case: &Case) {
    let what = format!("{} / {}", file.display(), case.id);
    assert!(
        !case.requirements.is_empty(),
        "{what}: names no requirement"
    );
    let input = unhex(&case.hex);
    let config = ReceiverConfig {
        max_frame: case.max_frame.unwrap_or(defaults.max_frame),
        max_message: case.max_message.unwrap_or(defaults.max_message),
        max_partial: 1024,
    };
    let eof = case.eof.unwrap_or(true);

    let whole = receive(config, &[&input], eof);
    assert_eq!(whole, case.expect, "{what}: whole input");
    for cut in 0..=input.len() {
        let (a, b) = input.split_at(cut);
        assert_eq!(
            receive(config, &[a, b], eof),
            case.expect,
            "{what}: split at {cut}"
        );
    }
    let ones: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        receive(config, &ones, eof),
        case.expect,
        "{what}: one-octet reads"
    );

    if let Some(frames) = &case.frames {
        let mut wire = Vec::new();
        for f in frames {
            let mut ext = Vec::new();
            for e in &f.extensions {
                encode_extension(e.kind, &unhex(&e.value), &mut ext).expect("extension");
            }
            let header = FrameHeader {
                version: f.version,
                frame_type: f.frame_type,
                flags: f.flags,
                session: f.session,
                request: f.request,
            };
            encode_frame(
                &header,
                &ext,
                &unhex(&f.payload),
                MAX_FRAME_LIMIT,
                &mut wire,
            )
            .expect("encodable frame");
        }
        assert_eq!(
            hex(&wire),
            case.hex,
            "{what}: the frames do not encode to hex"
        );
    } else {
        assert_ne!(case.encode, Some(true), "{what}: encode without frames");
    }
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// Runs every case of every file in `dir`; returns the number of cases.
fn run_dir(dir: &Path) -> usize {
    let files = json_files(dir);
    assert!(!files.is_empty(), "no vector files in {}", dir.display());
    let mut cases = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable vector file");
        let parsed: VectorFile =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(!parsed.cases.is_empty(), "{}: no cases", file.display());
        for case in &parsed.cases {
            check_case(&file, &parsed.defaults, case);
        }
        cases += parsed.cases.len();
    }
    cases
}

// Spec §13 item 1, FR-DEC-1: the shared vectors.
#[test]
fn spec_vectors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/vectors");
    let cases = run_dir(&dir);
    assert!(
        cases >= 100,
        "only {cases} cases found in {}",
        dir.display()
    );
}

// The loader itself, on a small file of cases kept with these tests.
#[test]
fn local_vectors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    assert!(run_dir(&dir) >= 4);
}
