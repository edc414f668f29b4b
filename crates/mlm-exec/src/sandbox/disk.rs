//! The node directory's disk bound: a watched quota. The launcher measures the blocks the directory
//! holds while the script runs and ends the script once they pass the policy's limit. Links are never
//! followed (`./input/` links to the public files, which the node does not own).

use std::path::Path;

/// The bytes allocated beneath `directory`, counting each file's blocks once per name; entries that
/// vanish while being counted are skipped.
pub(super) fn allocated_bytes(directory: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut pending = vec![directory.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.filter_map(|entry| entry.ok()) {
            let Ok(metadata) = entry.path().symlink_metadata() else {
                continue;
            };
            // st_blocks counts 512-byte units, whatever the file system's block size.
            total += metadata.blocks() * 512;
            if metadata.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_counted_and_links_not_followed() {
        let directory = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("big"), vec![1_u8; 1 << 20]).unwrap();
        std::fs::create_dir(directory.path().join("nested")).unwrap();
        std::fs::write(directory.path().join("nested/data"), vec![1_u8; 256 << 10]).unwrap();
        std::os::unix::fs::symlink(outside.path(), directory.path().join("input")).unwrap();
        let counted = allocated_bytes(directory.path());
        assert!(counted >= 256 << 10, "{counted}");
        assert!(counted < 1 << 20, "{counted}");
    }
}
