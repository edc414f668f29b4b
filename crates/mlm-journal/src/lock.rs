//! The run directory's lock: one writer per run. A journal opened for writing holds an exclusive advisory
//! lock on `<run>/run.lock` for as long as it lives, and writes its process id there so that a second
//! writer is told at once who holds the run. Two `resume`s of one run would otherwise delete each other's
//! running attempts and journal nodes twice.
//!
//! The lock is the kernel's (`flock`), so a killed holder releases it with its last descriptor; the file
//! itself stays behind and is never trusted for anything but the message.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use fs4::{FileExt, TryLockError};

use crate::error::{Error, Result};

/// The lock file's name inside the run directory.
const LOCK_FILE: &str = "run.lock";

/// An exclusive lock on a run directory, released when dropped.
#[derive(Debug)]
pub(crate) struct RunLock {
    /// Held open for the lock; closing it releases the lock.
    _file: File,
}

impl RunLock {
    /// Takes the lock of the run directory holding `journal`, or fails at once naming the holder.
    pub(crate) fn acquire(journal: &Path) -> Result<RunLock> {
        let run_dir = journal.parent().unwrap_or(Path::new("."));
        let path = run_dir.join(LOCK_FILE);
        let io = |source| Error::LockFile {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // The trait's method, not std's (Rust 1.89): this workspace builds on older compilers too.
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    run_dir: run_dir.to_path_buf(),
                    // Empty when the holder has locked but not yet written its id.
                    holder: std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|text| text.trim().parse().ok()),
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        file.write_all(format!("{}\n", std::process::id()).as_bytes())
            .map_err(io)?;
        Ok(RunLock { _file: file })
    }
}
