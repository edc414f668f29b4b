//! Bounded capture of a child's output: the first and the last bytes are kept, the middle is counted and
//! replaced by a marker, so that a script printing gigabytes costs the supervisor a fixed amount of memory
//! while the beginning (the setup) and the end (the error) both reach the reader.

use std::collections::VecDeque;

/// Keeps at most `head_limit` bytes from the start and `tail_limit` bytes from the end, in whole lines.
#[derive(Debug, Clone)]
pub(crate) struct OutputCapture {
    head: String,
    head_limit: usize,
    tail: VecDeque<String>,
    tail_bytes: usize,
    tail_limit: usize,
    omitted_bytes: u64,
    total_bytes: u64,
}

/// A child's output as kept: complete when small, head and tail around a marker when not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapturedOutput {
    /// The kept text, with `[… N bytes of output omitted …]` where the middle was cut.
    pub text: String,
    /// Everything the child printed, in bytes.
    pub total_bytes: u64,
    /// How many of them are not in `text`.
    pub omitted_bytes: u64,
}

impl CapturedOutput {
    /// The last `count` lines of the kept text, for short error messages.
    pub fn last_lines(&self, count: usize) -> String {
        let lines: Vec<&str> = self.text.lines().collect();
        lines[lines.len().saturating_sub(count)..].join("\n")
    }
}

impl OutputCapture {
    /// Splits `limit` bytes evenly between head and tail.
    pub(crate) fn new(limit: usize) -> Self {
        OutputCapture {
            head: String::new(),
            head_limit: limit / 2,
            tail: VecDeque::new(),
            tail_bytes: 0,
            tail_limit: limit - limit / 2,
            omitted_bytes: 0,
            total_bytes: 0,
        }
    }

    pub(crate) fn push_line(&mut self, line: &str) {
        let size = line.len() + 1;
        self.total_bytes += size as u64;
        if self.tail.is_empty()
            && self.omitted_bytes == 0
            && self.head.len() + size <= self.head_limit
        {
            self.head.push_str(line);
            self.head.push('\n');
            return;
        }
        self.tail.push_back(line.to_string());
        self.tail_bytes += size;
        while self.tail_bytes > self.tail_limit {
            match self.tail.pop_front() {
                Some(dropped) => {
                    self.tail_bytes -= dropped.len() + 1;
                    self.omitted_bytes += (dropped.len() + 1) as u64;
                }
                None => break,
            }
        }
    }

    pub(crate) fn finish(self) -> CapturedOutput {
        let mut text = self.head;
        if self.omitted_bytes > 0 {
            text.push_str(&format!(
                "[… {} bytes of output omitted …]\n",
                self.omitted_bytes
            ));
        }
        for line in &self.tail {
            text.push_str(line);
            text.push('\n');
        }
        CapturedOutput {
            text,
            total_bytes: self.total_bytes,
            omitted_bytes: self.omitted_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_kept_whole() {
        let mut capture = OutputCapture::new(100);
        capture.push_line("one");
        capture.push_line("two");
        let output = capture.finish();
        assert_eq!(output.text, "one\ntwo\n");
        assert_eq!((output.total_bytes, output.omitted_bytes), (8, 0));
    }

    #[test]
    fn large_output_keeps_head_and_tail_around_a_marker() {
        let mut capture = OutputCapture::new(40);
        for index in 0..1000 {
            capture.push_line(&format!("line {index}"));
        }
        let output = capture.finish();
        assert!(
            output.text.starts_with("line 0\nline 1\n"),
            "{}",
            output.text
        );
        assert!(
            output.text.ends_with("line 998\nline 999\n"),
            "{}",
            output.text
        );
        assert!(
            output.text.contains("bytes of output omitted"),
            "{}",
            output.text
        );
        assert_eq!(
            output.total_bytes,
            output.omitted_bytes + (output.text.len() as u64) - marker_length(&output)
        );
        assert_eq!(output.last_lines(1), "line 999");
    }

    fn marker_length(output: &CapturedOutput) -> u64 {
        format!("[… {} bytes of output omitted …]\n", output.omitted_bytes).len() as u64
    }
}
