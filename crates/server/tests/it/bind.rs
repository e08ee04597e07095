//! Binding a service directory (spec §9.2) and leaving it clean (FR-FIFO-19).

use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::time::{Duration, Instant};

use fifo_rpc_server::{Router, Server};

use crate::support::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777
}

// FR-FIFO-1, FR-FIFO-2: D is created 0700, the FIFOs and lock files 0600.
#[test]
fn fr_fifo_1_2_bind_creates_private_dir_and_files() {
    let t = TestDir::new();
    let dir = t.service();
    let server = Server::bind(&dir).expect("bind");
    assert_eq!(server.dir(), dir);
    assert_eq!(mode(&dir), 0o700);
    for fifo in ["pipe.in", "pipe.out"] {
        let meta = std::fs::symlink_metadata(dir.join(fifo)).unwrap();
        assert!(meta.file_type().is_fifo(), "{fifo}");
        assert_eq!(mode(&dir.join(fifo)), 0o600, "{fifo}");
    }
    for file in ["lock", "client.lock"] {
        assert!(
            std::fs::symlink_metadata(dir.join(file)).unwrap().is_file(),
            "{file}"
        );
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    assert!(server.max_frame() >= 512);
    drop(server); // never served: the files go anyway
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
}

// FR-FIFO-5: a second server on the same directory fails at once, naming it.
#[test]
fn fr_fifo_5_second_bind_is_refused_while_the_first_lives() {
    let t = TestDir::new();
    let dir = t.service();
    let first = Server::bind(&dir).expect("first bind");
    let started = Instant::now();
    let err = Server::bind(&dir).expect_err("second bind must fail");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once"
    );
    assert!(err.is_already_serving(), "{err:?}");
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
    assert!(
        dir.join("pipe.in").exists(),
        "the first server's files are untouched"
    );
    drop(first);
    let again = Server::bind(&dir).expect("bind after the first is gone");
    drop(again);
}

// FR-FIFO-6: files a dead server left are reclaimed: removed and created anew (new inodes).
#[test]
fn fr_fifo_6_stale_files_are_reclaimed() {
    let t = TestDir::new();
    let dir = t.service();
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let m600 = nix::sys::stat::Mode::from_bits_truncate(0o600);
    for fifo in ["pipe.in", "pipe.out"] {
        nix::unistd::mkfifo(&dir.join(fifo), m600).unwrap();
        std::fs::set_permissions(dir.join(fifo), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    for file in ["lock", "client.lock"] {
        std::fs::write(dir.join(file), b"").unwrap();
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // Hold the old FIFO open: once reclaimed it is unlinked (a new inode takes its name).
    let old = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(dir.join("pipe.in"))
        .unwrap();
    let server = Server::bind(&dir).expect("bind reclaims stale files");
    assert_eq!(
        old.metadata().unwrap().nlink(),
        0,
        "the old pipe.in was removed"
    );
    assert_eq!(std::fs::metadata(dir.join("pipe.in")).unwrap().nlink(), 1);
    assert_eq!(mode(&dir.join("pipe.in")), 0o600);
    drop(server);
    assert!(entries(&dir).is_empty());
}

// FR-FIFO-3, FR-FIFO-6: a symlink, a regular file or a 0666 FIFO at pipe.in is refused with
// the path named, and left alone.
#[test]
fn fr_fifo_3_planted_files_at_pipe_in_are_refused() {
    type Plant = fn(&std::path::Path);
    let plants: [(&str, Plant); 3] = [
        ("symlink", |p| {
            std::os::unix::fs::symlink("/dev/null", p).unwrap()
        }),
        ("regular file", |p| {
            std::fs::write(p, b"not a fifo").unwrap()
        }),
        ("fifo 0666", |p| {
            nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o666)).unwrap();
        }),
    ];
    for (what, plant) in plants {
        let t = TestDir::new();
        let dir = t.service();
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let target = dir.join("pipe.in");
        plant(&target);
        let err = Server::bind(&dir).expect_err(what);
        assert!(
            err.to_string().contains(&target.display().to_string()),
            "{what}: {err}"
        );
        assert!(
            std::fs::symlink_metadata(&target).is_ok(),
            "{what}: the planted file stays"
        );
    }
}

// FR-FIFO-1: a directory writable by others is refused.
#[test]
fn fr_fifo_1_world_writable_dir_is_refused() {
    let t = TestDir::new();
    let dir = t.service();
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = Server::bind(&dir).expect_err("refused");
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
}

// FR-FIFO-11, FR-FIFO-19: a shutdown with no client ends serve promptly and leaves nothing.
#[test]
fn fr_fifo_19_shutdown_without_client_leaves_nothing() {
    let t = TestDir::new();
    let dir = t.service();
    let server = Server::bind(&dir).expect("bind");
    let handle = server.shutdown_handle();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(server.serve(Router::new()));
    });
    let asked = Instant::now();
    handle.shutdown();
    let summary = rx
        .recv_timeout(WAIT)
        .expect("serve returned")
        .expect("serve ok");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "prompt: {:?}",
        asked.elapsed()
    );
    assert_eq!(summary.sessions, 0);
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    assert!(dir.exists(), "D itself stays");
}

// Invalid options are refused before anything is created.
#[test]
fn invalid_options_are_refused() {
    let t = TestDir::new();
    let dir = t.service();
    let err = Server::builder(&dir)
        .max_message(100)
        .bind()
        .expect_err("too small");
    assert!(err.to_string().contains("max_message"), "{err}");
    assert!(!dir.exists());
}

// The FIFOs get the server's default capacity (1 MiB) unless the kernel refuses, which is then
// logged; `pipe_size(0)` leaves the kernel's 64 KiB.
#[test]
fn fifos_get_1_mib_by_default_and_keep_the_kernel_size_with_pipe_size_0() {
    use std::sync::{Arc, Mutex};

    use fifo_rpc_fifo::{ServiceDir, PIPE_IN};
    use fifo_rpc_server::{ServerLog, DEFAULT_PIPE_SIZE};

    for (asked, want) in [(None, DEFAULT_PIPE_SIZE), (Some(0), 64 * 1024)] {
        let t = TestDir::new();
        let dir = t.service();
        let refused = Arc::new(Mutex::new(0));
        let seen = Arc::clone(&refused);
        let mut builder = Server::builder(&dir).on_log(move |record: &ServerLog| {
            if matches!(record, ServerLog::PipeSizeRefused { .. }) {
                *seen.lock().unwrap() += 1;
            }
        });
        if let Some(octets) = asked {
            builder = builder.pipe_size(octets);
        }
        let server = builder.bind().expect("bind");
        let writer = ServiceDir::open_existing(&dir)
            .unwrap()
            .open_writer(PIPE_IN)
            .unwrap()
            .expect("the server reads pipe.in");
        let size = writer.pipe_size().unwrap();
        if *refused.lock().unwrap() == 0 {
            assert_eq!(size, want, "pipe_size {asked:?}");
        } else {
            assert_eq!((asked, size), (None, 64 * 1024), "a refusal keeps 64 KiB");
        }
        drop(writer);
        drop(server);
    }
}
