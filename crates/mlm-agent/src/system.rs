//! Facts about this machine and this process, read from /proc.

/// Physical memory.
pub fn physical_memory_bytes() -> Option<u64> {
    kilobytes_field("/proc/meminfo", "MemTotal:").map(|kilobytes| kilobytes * 1024)
}

/// This process's own high-water mark of resident memory: the supervisor's cost of a run.
pub fn own_peak_rss_kilobytes() -> Option<u64> {
    kilobytes_field("/proc/self/status", "VmHWM:")
}

/// A `Name:   1234 kB` line of a /proc file.
fn kilobytes_field(file: &str, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|line| line.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_memory_and_this_process_a_peak() {
        assert!(physical_memory_bytes().is_some_and(|bytes| bytes > 0));
        assert!(own_peak_rss_kilobytes().is_some_and(|kilobytes| kilobytes > 0));
    }
}
