//! Descriptors a launch must not pass on: every one above stderr is marked close-on-exec, so that
//! neither bubblewrap's processes nor the script inherit what the supervisor's caller left open.

use std::os::fd::RawFd;

use nix::fcntl::{fcntl, FcntlArg, FdFlag};

/// Marks every open descriptor above 2 close-on-exec, as listed in `/proc/self/fd`.
pub(super) fn close_on_exec_above_stderr() -> Result<(), String> {
    let entries = std::fs::read_dir("/proc/self/fd")
        .map_err(|error| format!("cannot list the open descriptors in /proc/self/fd: {error}"))?;
    let descriptors: Vec<RawFd> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|descriptor| *descriptor > 2)
        .collect();
    for descriptor in descriptors {
        match close_on_exec(descriptor) {
            // The directory listing's own descriptor, closed since.
            Ok(()) | Err(nix::errno::Errno::EBADF) => {}
            Err(error) => {
                return Err(format!(
                    "cannot mark descriptor {descriptor} close-on-exec: {error}"
                ))
            }
        }
    }
    Ok(())
}

pub(super) fn close_on_exec(descriptor: RawFd) -> nix::Result<()> {
    fcntl(descriptor, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map(drop)
}
