//! The few system calls the benchmark needs beyond `std`: CPU affinity, CPU time, FIFO creation,
//! pipe size and limits, and tying a peer's life to its parent.
//!
//! Every `unsafe` block of the crate lives here.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// CPU time used by this process (all its threads) so far, in nanoseconds: (user, system).
///
/// `getrusage(RUSAGE_SELF)`; microsecond resolution, which is plenty over thousands of calls.
pub(crate) fn cpu_time_ns() -> (u64, u64) {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`; RUSAGE_SELF is a valid `who`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return (0, 0);
    }
    let ns = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1_000;
    (ns(usage.ru_utime), ns(usage.ru_stime))
}

/// Restricts the calling thread (and the threads it creates afterwards) to one CPU, or, with
/// `None`, lets it run on every CPU of the machine.
pub(crate) fn set_affinity(cpu: Option<usize>) -> io::Result<()> {
    // SAFETY: an all-zero `cpu_set_t` is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let cpus = match cpu {
        Some(one) => one..one + 1,
        None => 0..online_cpus(),
    };
    for cpu in cpus {
        // SAFETY: CPU_SET bounds-checks `cpu` against the set's size.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid `cpu_set_t` of the size passed; pid 0 means the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Number of online CPUs (`sysconf(_SC_NPROCESSORS_ONLN)`), at least 1.
pub(crate) fn online_cpus() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// Asks the kernel to kill this process when the thread that spawned it exits, so that a peer
/// never outlives a benchmark that stopped on an error.
pub(crate) fn die_with_parent() {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number; no pointers are involved.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
}

/// Creates a FIFO at `path` with mode 0600.
pub(crate) fn mkfifo(path: &Path) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets or clears `O_NONBLOCK` on a descriptor.
pub(crate) fn set_nonblocking(fd: &impl AsRawFd, nonblocking: bool) -> io::Result<()> {
    let fd: RawFd = fd.as_raw_fd();
    // SAFETY: F_GETFL on an open descriptor has no memory-safety preconditions.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let flags = if nonblocking {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: F_SETFL with an integer argument on an open descriptor.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets the capacity of the pipe behind `fd` (`F_SETPIPE_SZ`); returns the capacity granted.
pub(crate) fn set_pipe_size(fd: &impl AsRawFd, bytes: usize) -> io::Result<usize> {
    let size = libc::c_int::try_from(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pipe size too large"))?;
    // SAFETY: F_SETPIPE_SZ with an integer argument on an open pipe descriptor.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size) };
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}

/// `PIPE_BUF` of an anonymous pipe (`fpathconf(_PC_PIPE_BUF)`), or 4096 if it cannot be read.
pub(crate) fn pipe_buf() -> usize {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return 4096;
    }
    // SAFETY: fds[0] is an open pipe descriptor.
    let value = unsafe { libc::fpathconf(fds[0], libc::_PC_PIPE_BUF) };
    for fd in fds {
        // SAFETY: each descriptor was opened above and is closed once.
        unsafe { libc::close(fd) };
    }
    usize::try_from(value).unwrap_or(4096)
}

/// The kernel release (`uname -r`), or an empty string.
pub(crate) fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}
