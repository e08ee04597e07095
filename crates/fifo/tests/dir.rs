//! The service directory D: creation and verification (FR-FIFO-1).

mod common;

use common::{give_to_nobody, is_root, mode_of, set_mode, NOBODY};
use fifo_rpc_fifo::{FifoError, FileKind, ServiceDir};

// FR-FIFO-1: a missing D is created with mode 0700.
#[test]
fn fr_fifo_1_missing_dir_is_created_0700() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("svc");
    let dir = ServiceDir::create_or_verify(&path).unwrap();
    assert!(path.is_dir());
    assert_eq!(mode_of(&path), 0o700);
    assert_eq!(dir.path(), path);
    assert_eq!(dir.expected_uid(), nix::unistd::geteuid().as_raw());
}

// FR-FIFO-1: an existing private directory is accepted and its mode left alone.
#[test]
fn fr_fifo_1_existing_dir_without_group_other_write_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("svc");
    std::fs::create_dir(&path).unwrap();
    set_mode(&path, 0o755);
    ServiceDir::create_or_verify(&path).unwrap();
    ServiceDir::open_existing(&path).unwrap();
    assert_eq!(mode_of(&path), 0o755);
}

// FR-FIFO-1: a directory writable by group or others is refused, by server and client.
#[test]
fn fr_fifo_1_dir_0777_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("svc");
    std::fs::create_dir(&path).unwrap();
    for mode in [0o777, 0o720, 0o702] {
        set_mode(&path, mode);
        for result in [
            ServiceDir::create_or_verify(&path),
            ServiceDir::open_existing(&path),
        ] {
            match result {
                Err(FifoError::InsecureMode { path: p, mode: m }) => {
                    assert_eq!(p, path);
                    assert_eq!(m, mode);
                }
                other => panic!("mode {mode:o}: expected InsecureMode, got {other:?}"),
            }
        }
    }
    set_mode(&path, 0o777);
    let message = ServiceDir::create_or_verify(&path).unwrap_err().to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("0777"), "{message}");
}

// FR-FIFO-1: a directory owned by another user is refused.
#[test]
fn fr_fifo_1_dir_owned_by_another_user_is_refused() {
    assert!(
        is_root(),
        "this test chowns a directory and must run as root"
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("svc");
    std::fs::create_dir(&path).unwrap();
    set_mode(&path, 0o700);
    give_to_nobody(&path);
    let euid = nix::unistd::geteuid().as_raw();
    for result in [
        ServiceDir::create_or_verify(&path),
        ServiceDir::open_existing(&path),
    ] {
        match result {
            Err(FifoError::WrongOwner {
                path: p,
                uid,
                expected,
            }) => {
                assert_eq!(p, path);
                assert_eq!(uid, NOBODY);
                assert_eq!(expected, euid);
            }
            other => panic!("expected WrongOwner, got {other:?}"),
        }
    }
    // A client configured with the server's uid accepts it (FR-FIFO-3 "MAY").
    let dir = ServiceDir::open_existing_owned_by(&path, NOBODY).unwrap();
    assert_eq!(dir.expected_uid(), NOBODY);
}

// FR-FIFO-1: a symbolic link to a good directory is refused, not followed.
#[test]
fn fr_fifo_1_symlink_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    std::fs::create_dir(&real).unwrap();
    set_mode(&real, 0o700);
    let link = tmp.path().join("svc");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    for result in [
        ServiceDir::create_or_verify(&link),
        ServiceDir::open_existing(&link),
    ] {
        match result {
            Err(FifoError::Symlink { path }) => assert_eq!(path, link),
            other => panic!("expected Symlink, got {other:?}"),
        }
    }
    // A dangling link is refused too (mkdir reports EEXIST for it).
    let dangling = tmp.path().join("dangling");
    std::os::unix::fs::symlink(tmp.path().join("nowhere"), &dangling).unwrap();
    assert!(matches!(
        ServiceDir::create_or_verify(&dangling),
        Err(FifoError::Symlink { .. })
    ));
    assert!(!tmp.path().join("nowhere").exists());
}

// FR-FIFO-1: a regular file at D is refused with its kind.
#[test]
fn fr_fifo_1_regular_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("svc");
    std::fs::write(&path, b"").unwrap();
    match ServiceDir::create_or_verify(&path) {
        Err(FifoError::NotADirectory { path: p, kind }) => {
            assert_eq!(p, path);
            assert_eq!(kind, FileKind::RegularFile);
        }
        other => panic!("expected NotADirectory, got {other:?}"),
    }
}

// §9.4 step 1: a client finds no D yet; that is NotFound, distinct from a refusal.
#[test]
fn client_missing_dir_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("svc");
    match ServiceDir::open_existing(&path) {
        Err(FifoError::NotFound { path: p }) => assert_eq!(p, path),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(!path.exists(), "a client never creates D");
}
