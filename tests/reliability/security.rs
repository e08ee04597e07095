//! Files planted by others at every path a server uses, another user trying the FIFOs, and the
//! permissions of everything the server creates. Complements tests/e2e/cli.rs (planted files at
//! pipe.in, a world-writable directory) and crates/fifo/tests (the same checks one layer down).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::stat::Mode;
use nix::unistd::{chown, Gid, Uid};

use crate::harness::{figure, Watchdog};
use crate::support::{
    entries, example_bin, run_client, stderr_of, wait_child, ServerProc, TestDir, WAIT,
};

const NOBODY: u32 = 65534;

fn give_to_nobody(path: &Path) {
    chown(
        path,
        Some(Uid::from_raw(NOBODY)),
        Some(Gid::from_raw(NOBODY)),
    )
    .expect("chown");
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn fifo(path: &Path, mode: u32) {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o600)).expect("mkfifo");
    set_mode(path, mode);
}

fn private_dir(dir: &Path) {
    std::fs::create_dir(dir).expect("mkdir");
    set_mode(dir, 0o700);
}

type Plant = fn(&Path);

// FR-FIFO-3, FR-FIFO-5, FR-FIFO-6, spec §12 "Planted files": at the lock paths (lock,
// client.lock) and the FIFO paths, a symbolic link, a regular file or FIFO open to others, and
// files or directories owned by another user (nobody) are refused by echo_server: exit status
// non-zero, the error names the path, and the directory is left exactly as it was.
#[test]
fn planted_files_at_every_path_are_refused() {
    let _wd = Watchdog::new("planted files", Duration::from_secs(300));
    let plants: [(&str, &str, Plant); 14] = [
        ("lock", "symlink", |p| {
            std::os::unix::fs::symlink("/etc/passwd", p).unwrap()
        }),
        ("lock", "regular file 0644", |p| {
            std::fs::write(p, b"").unwrap();
            set_mode(p, 0o644);
        }),
        ("lock", "fifo 0600", |p| fifo(p, 0o600)),
        ("lock", "file of nobody", |p| {
            std::fs::write(p, b"").unwrap();
            set_mode(p, 0o600);
            give_to_nobody(p);
        }),
        ("lock", "directory", |p| std::fs::create_dir(p).unwrap()),
        ("client.lock", "symlink", |p| {
            std::os::unix::fs::symlink("lock", p).unwrap()
        }),
        ("client.lock", "regular file 0666", |p| {
            std::fs::write(p, b"").unwrap();
            set_mode(p, 0o666);
        }),
        ("client.lock", "fifo 0600", |p| fifo(p, 0o600)),
        ("client.lock", "file of nobody", |p| {
            std::fs::write(p, b"").unwrap();
            set_mode(p, 0o600);
            give_to_nobody(p);
        }),
        ("pipe.out", "symlink", |p| {
            std::os::unix::fs::symlink("pipe.in", p).unwrap()
        }),
        ("pipe.out", "fifo 0666", |p| fifo(p, 0o666)),
        ("pipe.out", "fifo of nobody", |p| {
            fifo(p, 0o600);
            give_to_nobody(p);
        }),
        ("pipe.in", "fifo of nobody", |p| {
            fifo(p, 0o600);
            give_to_nobody(p);
        }),
        ("pipe.in", "directory of nobody", |p| {
            std::fs::create_dir(p).unwrap();
            set_mode(p, 0o700);
            give_to_nobody(p);
        }),
    ];
    for (name, what, plant) in plants {
        let t = TestDir::new();
        let dir = t.service();
        private_dir(&dir);
        let target = dir.join(name);
        plant(&target);
        let before = entries(&dir);
        let mut server = ServerProc::spawn(&dir);
        let status = server.wait_exit();
        let err = server.stderr_after_exit();
        assert!(
            !status.success(),
            "{name} {what}: the server must refuse to start"
        );
        assert!(
            err.contains(&target.display().to_string()),
            "{name} {what}: the error must name {}: {err}",
            target.display()
        );
        // FR-FIFO-6: a refusal leaves D as it was, including the `lock` file the server
        // created for this start before it found the planted file.
        let after = entries(&dir);
        assert_eq!(after, before, "{name} {what}: the directory was changed");
        assert!(
            std::fs::symlink_metadata(&target).is_ok(),
            "{name} {what}: removed"
        );
    }
    figure(format_args!(
        "security: {} plants at lock, client.lock, pipe.out, pipe.in (symlinks, files and FIFOs \
         open to others, files, FIFOs and directories of another user) refused by echo_server, \
         path named, directory untouched",
        plants.len()
    ));
}

// FR-FIFO-1: a service directory owned by another user is refused by the server process and by
// the client process, each naming it.
#[test]
fn directory_of_another_user_is_refused_by_server_and_client() {
    let _wd = Watchdog::new("directory of nobody", Duration::from_secs(120));
    let t = TestDir::new();
    let dir = t.service();
    private_dir(&dir);
    give_to_nobody(&dir);
    let mut server = ServerProc::spawn(&dir);
    assert!(!server.wait_exit().success());
    let err = server.stderr_after_exit();
    assert!(err.contains(&dir.display().to_string()), "{err}");
    let out = run_client(&dir, &["--timeout-ms", "500", "hi"]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains(&dir.display().to_string()),
        "the client names the directory: {}",
        stderr_of(&out)
    );
    figure(format_args!(
        "security: directory owned by nobody refused: server `{}`, client `{}`",
        err.trim(),
        stderr_of(&out).trim()
    ));
}

/// Runs `sh -c script arg` as nobody (setpriv); returns (success, stderr).
fn as_nobody(script: &str, arg: &Path) -> (bool, String) {
    let out = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "sh",
            "-c",
            script,
        ])
        .arg(arg)
        .stdin(Stdio::null())
        .output()
        .expect("setpriv");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// Spec §12 "Who can call": another user cannot open the FIFOs (EACCES), neither through the 0700
// directory nor, with the directory made traversable, through the 0600 FIFOs themselves; the
// echo_client run as that user fails with a clear error. The owner's clients still work.
#[test]
fn another_user_cannot_open_the_fifos() {
    let _wd = Watchdog::new("other user", Duration::from_secs(120));
    let t = TestDir::new();
    set_mode(t.tmp.path(), 0o755);
    let dir = t.service();
    let mut server = ServerProc::start(&dir);
    let mut refusals = Vec::new();
    for (layer, mode) in [
        ("directory 0700", 0o700),
        ("FIFOs 0600 in a 0711 directory", 0o711),
    ] {
        set_mode(&dir, mode);
        for (what, script) in [
            ("write pipe.in", "exec 3>\"$0/pipe.in\""),
            ("read pipe.out", "exec 3<\"$0/pipe.out\""),
            ("lock client.lock", "exec 3<\"$0/client.lock\""),
        ] {
            let (ok, err) = as_nobody(script, &dir);
            assert!(!ok, "{layer}: nobody could {what}");
            assert!(err.contains("Permission denied"), "{layer}, {what}: {err}");
            refusals.push(format!("{what} ({layer})"));
        }
        let out = Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(example_bin("echo_client"))
            .arg("--dir")
            .arg(&dir)
            .args(["--timeout-ms", "500", "hi"])
            .output()
            .expect("echo_client as nobody");
        assert!(
            !out.status.success(),
            "{layer}: echo_client as nobody succeeded"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("ermission denied") || err.contains("owned by"),
            "{layer}: a clear error: {err}"
        );
        refusals.push(format!("echo_client ({layer}): {}", err.trim()));
    }
    set_mode(&dir, 0o700);
    let out = run_client(&dir, &["still served", "exit"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(server.wait_exit().success());
    figure(format_args!("security: as nobody: {}", refusals.join("; ")));
}

// FR-FIFO-1, FR-FIFO-2: everything echo_server creates is private and owned by its effective
// uid, even when it starts with umask 000: D 0700, pipe.in and pipe.out FIFOs 0600, lock and
// client.lock regular files 0600, and nothing else.
#[test]
fn everything_the_server_creates_is_private_under_umask_000() {
    let _wd = Watchdog::new("created permissions", Duration::from_secs(120));
    let t = TestDir::new();
    let dir = t.service();
    let mut child = Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" --dir \"$1\""])
        .arg(example_bin("echo_server"))
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("echo_server under umask 000");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("readiness line");
    assert_eq!(line.trim_end(), format!("listening on {}", dir.display()));
    let euid = nix::unistd::geteuid().as_raw();
    let meta = std::fs::symlink_metadata(&dir).expect("D");
    assert!(meta.is_dir());
    assert_eq!(meta.mode() & 0o7777, 0o700, "D");
    assert_eq!(meta.uid(), euid, "D owner");
    assert_eq!(
        entries(&dir),
        ["client.lock", "lock", "pipe.in", "pipe.out"]
    );
    for name in ["client.lock", "lock", "pipe.in", "pipe.out"] {
        let meta = std::fs::symlink_metadata(dir.join(name)).expect("stat");
        let fifo = name.starts_with("pipe");
        assert_eq!(meta.file_type().is_fifo(), fifo, "{name} kind");
        assert_eq!(meta.is_file(), !fifo, "{name} kind");
        assert_eq!(meta.mode() & 0o7777, 0o600, "{name} mode");
        assert_eq!(meta.uid(), euid, "{name} owner");
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    assert!(wait_child(&mut child, WAIT).success());
    assert!(entries(&dir).is_empty(), "FR-FIFO-19: files removed");
    figure("security: under umask 000, echo_server created D 0700 and pipe.in, pipe.out, lock, client.lock 0600, all owned by its euid, nothing else");
}
