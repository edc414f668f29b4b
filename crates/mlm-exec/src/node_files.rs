//! The files the supervisor reads and writes in a node directory, which the script controlled until it
//! ended: each is opened beneath the directory one name at a time with `O_NOFOLLOW`, so a link the
//! script planted (to the private answers, to a file of the user's) is never followed, and only a
//! regular file is read. Called once no process of the script is left, so nothing changes meanwhile.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use rustix::fs::{fstat, openat, unlinkat, AtFlags, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

/// Why a file the script left is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It, or a directory on its way, is a symbolic link.
    Link,
    /// It is a directory, a FIFO, a socket or a device.
    NotRegular,
    /// It could not be opened or read.
    Unreadable(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Link => write!(formatter, "it is a symbolic link, or lies beneath one"),
            Refusal::NotRegular => write!(formatter, "it is not a regular file"),
            Refusal::Unreadable(error) => write!(formatter, "it cannot be read: {error}"),
        }
    }
}

/// Opens `relative` (plain names only) beneath `root` for reading: `Ok(None)` when it does not exist.
pub(crate) fn open_regular(root: &Path, relative: &Path) -> Result<Option<File>, Refusal> {
    let names: Vec<&std::ffi::OsStr> = relative
        .components()
        .map(|component| match component {
            Component::Normal(name) => Ok(name),
            Component::RootDir
            | Component::CurDir
            | Component::ParentDir
            | Component::Prefix(_) => Err(Refusal::Unreadable(format!(
                "{} is not a plain relative path",
                relative.display()
            ))),
        })
        .collect::<Result<_, _>>()?;
    let Some((last, directories)) = names.split_last() else {
        return Err(Refusal::NotRegular);
    };
    let directory_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut directory = match openat(CWD, root, directory_flags, Mode::empty()) {
        Ok(directory) => directory,
        Err(Errno::NOENT) => return Ok(None),
        Err(error) => return Err(Refusal::Unreadable(error.to_string())),
    };
    for name in directories {
        directory = match openat(
            &directory,
            *name,
            directory_flags | OFlags::NOFOLLOW,
            Mode::empty(),
        ) {
            Ok(next) => next,
            Err(error) => return absent_or_refused(error),
        };
    }
    // Non-blocking: opening a FIFO the script left must not wait for a writer.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let file: OwnedFd = match openat(&directory, *last, flags, Mode::empty()) {
        Ok(file) => file,
        Err(error) => return absent_or_refused(error),
    };
    let kind = fstat(&file).map_err(|error| Refusal::Unreadable(error.to_string()))?;
    match FileType::from_raw_mode(kind.st_mode) {
        FileType::RegularFile => Ok(Some(File::from(file))),
        _ => Err(Refusal::NotRegular),
    }
}

fn absent_or_refused(error: Errno) -> Result<Option<File>, Refusal> {
    match error {
        Errno::NOENT => Ok(None),
        // O_NOFOLLOW on a link gives ELOOP; O_DIRECTORY on a link to a directory gives ENOTDIR.
        Errno::LOOP | Errno::NOTDIR => Err(Refusal::Link),
        error => Err(Refusal::Unreadable(error.to_string())),
    }
}

/// Reads at most `limit` bytes of `relative` beneath `root` as text (lossily): `Ok(None)` when absent.
pub(crate) fn read_text(
    root: &Path,
    relative: &Path,
    limit: u64,
) -> Result<Option<String>, Refusal> {
    let Some(file) = open_regular(root, relative)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|error| Refusal::Unreadable(error.to_string()))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Writes `contents` to `name` directly in `root` as a new file: whatever the script left under that
/// name (a link, a file, an empty directory) is removed first, never followed.
pub(crate) fn replace(root: &Path, name: &str, contents: &[u8]) -> std::io::Result<()> {
    let directory = openat(
        CWD,
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    match unlinkat(&directory, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(Errno::ISDIR | Errno::PERM) => unlinkat(&directory, name, AtFlags::REMOVEDIR)?,
        Err(error) => return Err(error.into()),
    }
    let file = openat(
        &directory,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    File::from(file).write_all(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_anywhere_on_the_way_are_refused_and_regular_files_read() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("answers.csv");
        std::fs::write(&secret, "secret").unwrap();
        std::fs::create_dir(root.path().join("submission")).unwrap();
        std::fs::write(root.path().join("submission/submission.csv"), "id\n").unwrap();
        assert_eq!(
            read_text(root.path(), Path::new("submission/submission.csv"), 100).unwrap(),
            Some("id\n".to_string())
        );
        std::os::unix::fs::symlink(&secret, root.path().join("metrics.json")).unwrap();
        assert_eq!(
            read_text(root.path(), Path::new("metrics.json"), 100),
            Err(Refusal::Link)
        );
        std::os::unix::fs::symlink(outside.path(), root.path().join("linked")).unwrap();
        assert_eq!(
            read_text(root.path(), Path::new("linked/answers.csv"), 100),
            Err(Refusal::Link)
        );
        assert_eq!(
            read_text(root.path(), Path::new("missing/file"), 100),
            Ok(None)
        );
        assert_eq!(
            read_text(root.path(), Path::new("submission"), 100),
            Err(Refusal::NotRegular)
        );
    }

    #[test]
    fn replacing_removes_a_planted_link_instead_of_writing_through_it() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, root.path().join("output.txt")).unwrap();
        replace(root.path(), "output.txt", b"printed").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(
            std::fs::read_to_string(root.path().join("output.txt")).unwrap(),
            "printed"
        );
    }
}
