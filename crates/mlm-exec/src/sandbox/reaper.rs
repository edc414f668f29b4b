//! Ending every descendant of the launcher. The launcher is a child subreaper, so processes whose
//! parent died (including those that left the process group with `setsid`) become its children, and
//! `/proc/<pid>/task/<tid>/children` finds the rest of the tree.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Kills (SIGKILL) and reaps every descendant of this process, until none is left.
pub(super) fn kill_all_descendants() {
    loop {
        let descendants = descendants_of(Pid::this());
        for pid in &descendants {
            let _ = kill(*pid, Signal::SIGKILL);
        }
        reap_exited_children();
        if descendants.is_empty() {
            return;
        }
        // Killed processes need a moment to exit and be reparented to us.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every process below `pid`, found through `/proc`; a process that vanished meanwhile is skipped.
fn descendants_of(pid: Pid) -> Vec<Pid> {
    let mut found = Vec::new();
    let mut pending = vec![pid];
    while let Some(parent) = pending.pop() {
        let Ok(threads) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for thread in threads.filter_map(|thread| thread.ok()) {
            let children =
                std::fs::read_to_string(thread.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace() {
                if let Ok(child) = child.parse() {
                    found.push(Pid::from_raw(child));
                    pending.push(Pid::from_raw(child));
                }
            }
        }
    }
    found
}

/// Reaps every child that has exited, without waiting for the others.
fn reap_exited_children() {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) | Err(_) => {}
        }
    }
}
