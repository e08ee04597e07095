//! The server's files: creation with exact modes (FR-FIFO-2), reclaiming stale files and
//! refusing planted ones (FR-FIFO-6), verified opens (FR-FIFO-3), removal (FR-FIFO-19).

mod common;

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use common::{
    child_command, give_to_nobody, inode_of, is_root, mode_of, output_text, plant_fifo, role,
    run_child, served, set_mode, DIR_VAR, NOBODY,
};
use fifo_rpc_fifo::{
    ClientLock, FifoError, FileKind, ServerLock, ServiceDir, CLIENT_LOCK, LOCK, PIPE_IN, PIPE_OUT,
};

fn assert_service_files(d: &Path) {
    for name in [PIPE_IN, PIPE_OUT] {
        let meta = std::fs::symlink_metadata(d.join(name)).unwrap();
        assert!(meta.file_type().is_fifo(), "{name} is a fifo");
        assert_eq!(mode_of(&d.join(name)), 0o600, "{name} mode");
    }
    for name in [CLIENT_LOCK, LOCK] {
        let meta = std::fs::symlink_metadata(d.join(name)).unwrap();
        assert!(meta.file_type().is_file(), "{name} is a regular file");
        assert_eq!(mode_of(&d.join(name)), 0o600, "{name} mode");
    }
}

// FR-FIFO-2: FIFOs and lock files are created with mode 0600.
#[test]
fn fr_fifo_2_files_are_created_0600() {
    let (tmp, _dir, _lock) = served();
    assert_service_files(&tmp.path().join("svc"));
}

// FR-FIFO-2, FR-FIFO-1: modes are exact whatever the umask. The umask is process-wide, so this
// runs in a child process.
#[test]
fn fr_fifo_2_modes_are_exact_under_a_hostile_umask() {
    if role().as_deref() == Some("umask") {
        let d = Path::new(&std::env::var(DIR_VAR).unwrap()).join("svc");
        // SAFETY: umask(2) takes no pointers; this child process runs only this test.
        unsafe { libc::umask(0o377) };
        let dir = ServiceDir::create_or_verify(&d).unwrap();
        let lock = ServerLock::acquire(&dir).unwrap();
        lock.reclaim_and_create().unwrap();
        println!("child created the files");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = child_command("fr_fifo_2_modes_are_exact_under_a_hostile_umask", "umask");
    cmd.env(DIR_VAR, tmp.path());
    let output = run_child(cmd);
    assert!(output.status.success(), "{}", output_text(&output));
    assert!(output_text(&output).contains("child created the files"));
    let d = tmp.path().join("svc");
    assert_eq!(mode_of(&d), 0o700);
    assert_service_files(&d);
}

// FR-FIFO-6: files left by a dead server are removed and created anew (new inodes).
#[test]
fn fr_fifo_6_stale_files_are_reclaimed() {
    let (tmp, dir, lock) = served();
    let d = tmp.path().join("svc");
    let names = [PIPE_IN, PIPE_OUT, CLIENT_LOCK];
    let before: Vec<u64> = names.iter().map(|n| inode_of(&d.join(n))).collect();
    // Descriptors of the old files stay open, as a client of the dead server would hold them;
    // this also keeps their inode numbers from being reused.
    let old_in = dir.open_reader(PIPE_IN).unwrap();
    let old_out = dir.open_reader(PIPE_OUT).unwrap();
    let old_client = ClientLock::try_acquire(&dir).unwrap().unwrap();
    drop(lock); // the "dead" server released its lock but left its files

    let lock = ServerLock::acquire(&dir).unwrap();
    lock.reclaim_and_create().unwrap();
    assert_service_files(&d);
    for (name, old) in names.iter().zip(&before) {
        assert_ne!(inode_of(&d.join(name)), *old, "{name} is a new inode");
    }
    // The old pipe.in reader does not make the new pipe.in look served (ENXIO), and the old
    // client's lock does not block a new client.
    assert!(dir.open_writer(PIPE_IN).unwrap().is_none());
    assert!(ClientLock::try_acquire(&dir).unwrap().is_some());
    drop((old_in, old_out, old_client));
}

/// Plants something at `name` in a fresh served directory (after dropping the lock), then
/// checks that reclaiming refuses it with `check`, names its path, and removes nothing.
fn refused_plant(
    name: &str,
    plant: impl FnOnce(&Path),
    check: impl FnOnce(&FifoError, &Path) -> bool,
) {
    let (tmp, dir, lock) = served();
    let d = tmp.path().join("svc");
    drop(lock);
    let path = d.join(name);
    std::fs::remove_file(&path).unwrap();
    plant(&path);
    let names = [PIPE_IN, PIPE_OUT, CLIENT_LOCK];
    let before: Vec<u64> = names.iter().map(|n| inode_of(&d.join(n))).collect();
    let lock = ServerLock::acquire(&dir).unwrap();
    let err = lock.reclaim_and_create().unwrap_err();
    assert!(check(&err, &path), "unexpected error for {name}: {err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    let after: Vec<u64> = names.iter().map(|n| inode_of(&d.join(n))).collect();
    assert_eq!(before, after, "a refusal removes nothing");
}

// FR-FIFO-6, §12: a symbolic link planted at pipe.in is refused.
#[test]
fn fr_fifo_6_planted_symlink_is_refused() {
    refused_plant(
        PIPE_IN,
        |p| std::os::unix::fs::symlink("/dev/null", p).unwrap(),
        |e, p| matches!(e, FifoError::Symlink { path } if path == p),
    );
}

// FR-FIFO-6: a regular file where a FIFO belongs is refused.
#[test]
fn fr_fifo_6_planted_regular_file_is_refused() {
    refused_plant(
        PIPE_IN,
        |p| {
            std::fs::write(p, b"x").unwrap();
            set_mode(p, 0o600);
        },
        |e, p| matches!(e, FifoError::NotAFifo { path, kind: FileKind::RegularFile } if path == p),
    );
}

// FR-FIFO-6: a FIFO with mode 0666 is not ours to reclaim.
#[test]
fn fr_fifo_6_planted_fifo_0666_is_refused() {
    refused_plant(
        PIPE_IN,
        |p| plant_fifo(p, 0o666),
        |e, p| matches!(e, FifoError::UnexpectedMode { path, mode: 0o666, expected: 0o600 } if path == p),
    );
}

// FR-FIFO-6: a FIFO owned by another user is refused.
#[test]
fn fr_fifo_6_planted_fifo_owned_by_nobody_is_refused() {
    assert!(is_root(), "this test chowns a file and must run as root");
    refused_plant(
        PIPE_IN,
        |p| {
            plant_fifo(p, 0o600);
            give_to_nobody(p);
        },
        |e, p| matches!(e, FifoError::WrongOwner { path, uid: NOBODY, .. } if path == p),
    );
}

// FR-FIFO-6: a FIFO where a regular file belongs (client.lock) is refused.
#[test]
fn fr_fifo_6_fifo_at_client_lock_is_refused() {
    refused_plant(
        CLIENT_LOCK,
        |p| plant_fifo(p, 0o600),
        |e, p| matches!(e, FifoError::NotARegularFile { path, kind: FileKind::Fifo } if path == p),
    );
}

// FR-FIFO-6: a directory at pipe.out is refused.
#[test]
fn fr_fifo_6_directory_at_pipe_out_is_refused() {
    refused_plant(
        PIPE_OUT,
        |p| {
            std::fs::create_dir(p).unwrap();
            set_mode(p, 0o600);
        },
        |e, p| matches!(e, FifoError::NotAFifo { path, kind: FileKind::Directory } if path == p),
    );
}

// FR-FIFO-3: the client's opens refuse planted files with the path and the failed check.
#[test]
fn fr_fifo_3_open_refuses_planted_files() {
    let (tmp, dir, _lock) = served();
    let d = tmp.path().join("svc");
    let path = d.join(PIPE_OUT);
    let replant = |plant: &dyn Fn(&Path)| {
        let _ = std::fs::remove_file(&path);
        plant(&path);
    };

    replant(&|p| std::os::unix::fs::symlink(d.join(PIPE_IN), p).unwrap());
    let err = dir.open_reader(PIPE_OUT).unwrap_err();
    assert!(
        matches!(&err, FifoError::Symlink { path: p } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(matches!(
        dir.open_writer(PIPE_OUT),
        Err(FifoError::Symlink { .. })
    ));

    replant(&|p| std::fs::write(p, b"").unwrap());
    let err = dir.open_reader(PIPE_OUT).unwrap_err();
    assert!(
        matches!(&err, FifoError::NotAFifo { path: p, kind: FileKind::RegularFile } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));

    replant(&|p| plant_fifo(p, 0o640));
    let err = dir.open_reader(PIPE_OUT).unwrap_err();
    assert!(
        matches!(&err, FifoError::InsecureMode { path: p, mode: 0o640 } if *p == path),
        "{err:?}"
    );

    if is_root() {
        replant(&|p| {
            plant_fifo(p, 0o600);
            give_to_nobody(p);
        });
        let err = dir.open_reader(PIPE_OUT).unwrap_err();
        assert!(
            matches!(&err, FifoError::WrongOwner { path: p, uid: NOBODY, .. } if *p == path),
            "{err:?}"
        );
    }

    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        dir.open_reader(PIPE_OUT),
        Err(FifoError::NotFound { path: p }) if p == path
    ));
    assert!(matches!(
        dir.open_reader("../escape"),
        Err(FifoError::InvalidName { .. })
    ));
}

// FR-FIFO-3: lock files are verified too.
#[test]
fn fr_fifo_3_lock_files_are_verified() {
    let (tmp, dir, lock) = served();
    let d = tmp.path().join("svc");
    set_mode(&d.join(CLIENT_LOCK), 0o644);
    assert!(matches!(
        ClientLock::try_acquire(&dir),
        Err(FifoError::InsecureMode { mode: 0o644, .. })
    ));
    std::fs::remove_file(d.join(CLIENT_LOCK)).unwrap();
    std::os::unix::fs::symlink(d.join(LOCK), d.join(CLIENT_LOCK)).unwrap();
    assert!(matches!(
        ClientLock::try_acquire(&dir),
        Err(FifoError::Symlink { .. })
    ));

    drop(lock);
    std::fs::remove_file(d.join(LOCK)).unwrap();
    plant_fifo(&d.join(LOCK), 0o600);
    assert!(matches!(
        ServerLock::acquire(&dir),
        Err(FifoError::NotARegularFile {
            kind: FileKind::Fifo,
            ..
        })
    ));
}

// FR-FIFO-19: shutdown removes the four files and keeps D; a new server can start.
#[test]
fn fr_fifo_19_remove_files() {
    let (tmp, dir, lock) = served();
    let d = tmp.path().join("svc");
    let reader = dir.open_reader(PIPE_IN).unwrap();
    lock.remove_files().unwrap();
    assert!(d.is_dir(), "D stays");
    assert_eq!(
        std::fs::read_dir(&d).unwrap().count(),
        0,
        "all files removed"
    );
    // The removed lock was released: a new server starts at once.
    let lock = ServerLock::acquire(&dir).unwrap();
    lock.reclaim_and_create().unwrap();
    drop(reader);
    assert_service_files(&d);
}

// FR-FIFO-6: a start that runs out of descriptors half-way leaves the directory as it was.
// RLIMIT_NOFILE is process-wide, so this runs in a child process: it fills every descriptor gap,
// then allows exactly `spare` more descriptors and tries to create the service files.
#[test]
fn fr_fifo_6_a_start_out_of_descriptors_leaves_nothing() {
    if role().as_deref() == Some("nofile") {
        let base = Path::new(&std::env::var(DIR_VAR).unwrap()).to_path_buf();
        let mut original = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the valid rlimit it is given.
        let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut original) };
        assert_eq!(got, 0);
        let mut held = Vec::new();
        for spare in 0..3 {
            let d = base.join(format!("svc{spare}"));
            let dir = ServiceDir::create_or_verify(&d).unwrap();
            let lock = ServerLock::acquire(&dir).unwrap();
            // Fill the gaps below the highest open descriptor so the limit counts exactly.
            let highest = std::fs::read_dir("/proc/self/fd")
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
                .max()
                .unwrap();
            // `dup` takes the lowest free number, so once it returns one at or above the highest
            // listed (that may be read_dir's own, closed again), 0..=top are open and none above.
            let top = loop {
                let fd = nix::unistd::dup(std::io::stdin()).unwrap();
                let n = u64::try_from(std::os::fd::AsRawFd::as_raw_fd(&fd)).unwrap();
                held.push(fd);
                if n >= highest {
                    break n;
                }
            };
            let limit = top + 1 + spare;
            let rl = libc::rlimit {
                rlim_cur: limit,
                rlim_max: original.rlim_max,
            };
            // SAFETY: setrlimit with a valid rlimit value; this child runs only this test.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) }, 0);
            match lock.reclaim_and_create() {
                Ok(()) => println!("spare {spare}: ok"),
                Err(e) => {
                    drop(lock);
                    println!("spare {spare}: err {e}");
                }
            }
            // SAFETY: as above.
            let restored = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &original) };
            assert_eq!(restored, 0);
        }
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = child_command(
        "fr_fifo_6_a_start_out_of_descriptors_leaves_nothing",
        "nofile",
    );
    cmd.env(DIR_VAR, tmp.path());
    let output = run_child(cmd);
    let text = output_text(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("spare 0: err") && text.contains("os error 24"),
        "no descriptor to spare fails with EMFILE: {text}"
    );
    assert!(text.contains("spare 1: ok"), "one is enough: {text}");
    assert_eq!(
        std::fs::read_dir(tmp.path().join("svc0")).unwrap().count(),
        0,
        "the failed start removed pipe.in (made, not opened) and the lock file it created"
    );
    assert_service_files(&tmp.path().join("svc1"));
}
