//! A call's events file: whole lines, written as they happen, never torn,
//! and never in the way of the call's other outputs.
//!
//! Why not a `BufWriter`: a process killed mid-call (SIGKILL, an OOM kill,
//! a power cut) loses whatever the buffer held, and the pages and NATS had
//! already shown those lines. Events come a few a second at most, so one
//! `write` per line costs nothing that matters (see docs/PERFORMANCE.md).
//!
//! Why a failure is absorbed here: a full or broken disk must not silence
//! the call on the pages and NATS, so a line that cannot be written is
//! counted and the file is cut back to its last whole line. When writing
//! works again, a `events_lost` line says how many lines are missing there.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Longest escaped call id in a file name, bytes (names stay well under
/// the usual 255-byte limit with the suffix and extension).
const MAX_STEM: usize = 180;

/// A call id as a file name, reversibly: ASCII letters, digits, `-` and `_`
/// stay, every other byte becomes `%XX`. So `acct/42` and `acct_42` never
/// share a file, and the id can be read back from the name.
pub fn escape_id(call_id: &str) -> String {
    let mut s = String::with_capacity(call_id.len());
    for b in call_id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
        if s.len() >= MAX_STEM {
            break;
        }
    }
    if s.is_empty() {
        s.push_str("%00empty");
    }
    s
}

/// Opens a new file for a call in `dir`: `<escaped id>.jsonl`, or, when a
/// call with that id has a file already, `<escaped id>~2.jsonl` and so on.
/// An existing file is never opened, so a repeated id never truncates the
/// earlier call. Returns the file and its stem (for the incident notes).
pub fn create_unique(dir: &Path, call_id: &str) -> io::Result<(File, PathBuf)> {
    let base = escape_id(call_id);
    for n in 1u32.. {
        let stem = if n == 1 {
            dir.join(&base)
        } else {
            dir.join(format!("{base}~{n}"))
        };
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(stem.with_extension("jsonl"))
        {
            Ok(f) => return Ok((f, stem)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 10_000 => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

/// Checks at start that `dir` takes new files, so a read-only or full
/// events folder refuses the server rather than every call.
pub fn check_writable(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".shoutcue-probe-{}", std::process::id()));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)?;
    let written = f.write_all(b"probe\n").and_then(|()| f.sync_all());
    drop(f);
    let removed = std::fs::remove_file(&probe);
    written.and(removed)
}

/// What became of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// On disk (in the OS's cache: survives the process, not a power cut).
    Ok,
    /// Not written; the file ends at its last whole line.
    Failed,
    /// Written, and before it a line saying how many were lost.
    Resumed,
}

/// One call's events file.
pub struct EventsFile {
    file: File,
    /// Bytes of whole lines in the file.
    good_len: u64,
    /// Lines not written since the last one that was.
    lost: u64,
    /// The reusable line for `events_lost`.
    gap: Vec<u8>,
    /// The line and its newline, so both go in one `write`: a kill between
    /// two writes would leave a line without its end.
    buf: Vec<u8>,
}

impl EventsFile {
    /// Wraps a newly created, empty file.
    pub fn new(file: File) -> Self {
        Self {
            file,
            good_len: 0,
            lost: 0,
            gap: Vec::with_capacity(96),
            buf: Vec::with_capacity(1024),
        }
    }

    /// Appends `line` (an event without its newline) and a newline. Never
    /// leaves a torn line behind.
    pub fn write_line(&mut self, line: &[u8]) -> Written {
        let resumed = if self.lost > 0 {
            // The gap is dated with the line that follows it.
            let t = serde_json::from_slice::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["t"].as_f64())
                .unwrap_or(0.0);
            self.gap.clear();
            let _ = write!(
                self.gap,
                "{{\"v\":1,\"t\":{t},\"type\":\"events_lost\",\"lines\":{}}}",
                self.lost
            );
            let gap = std::mem::take(&mut self.gap);
            let ok = self.append(&gap);
            self.gap = gap;
            if !ok {
                self.lost += 1;
                return Written::Failed;
            }
            true
        } else {
            false
        };
        if self.append(line) {
            self.lost = 0;
            if resumed {
                Written::Resumed
            } else {
                Written::Ok
            }
        } else {
            self.lost += 1;
            Written::Failed
        }
    }

    /// One line in one `write` where the OS allows; on any error the file
    /// is cut back to `good_len`, so no torn line stays.
    fn append(&mut self, line: &[u8]) -> bool {
        self.buf.clear();
        self.buf.extend_from_slice(line);
        self.buf.push(b'\n');
        match self.file.write_all(&self.buf) {
            Ok(()) => {
                self.good_len += line.len() as u64 + 1;
                true
            }
            Err(_) => {
                // Cutting back needs no space; if even that fails, the
                // next successful line still starts after a newline
                // because `good_len` is where the next write goes.
                let _ = self.file.set_len(self.good_len);
                let _ = io::Seek::seek(&mut self.file, io::SeekFrom::Start(self.good_len));
                false
            }
        }
    }

    /// Lines not written since the last one that was.
    pub fn lost(&self) -> u64 {
        self.lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_differ_get_files_that_differ_and_read_back() {
        let ids = ["acct/42", "acct_42", "acct%2F42", "a b", "../x", "", ".."];
        let names: Vec<String> = ids.iter().map(|i| escape_id(i)).collect();
        for (i, a) in names.iter().enumerate() {
            assert!(!a.contains('/') && !a.contains('.'), "{a}");
            for b in &names[i + 1..] {
                assert_ne!(a, b, "two ids share a file name");
            }
        }
        assert_eq!(escape_id("acct/42"), "acct%2F42");
        assert_eq!(escape_id("CA1234-ab_c"), "CA1234-ab_c");
    }

    #[test]
    fn a_repeated_id_gets_a_new_file_and_the_first_is_untouched() {
        let dir = tempdir();
        let (mut a, stem_a) = create_unique(&dir, "conv-1").unwrap();
        a.write_all(b"{\"first\":1}\n").unwrap();
        let (_b, stem_b) = create_unique(&dir, "conv-1").unwrap();
        assert_ne!(stem_a, stem_b);
        assert!(stem_b.ends_with("conv-1~2"), "{}", stem_b.display());
        let first = std::fs::read_to_string(stem_a.with_extension("jsonl")).unwrap();
        assert_eq!(first, "{\"first\":1}\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_folder_that_takes_no_files_is_found_at_start() {
        let dir = tempdir();
        check_writable(&dir).unwrap();
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "the probe stays"
        );
        // /proc takes no new files, even for root.
        assert!(check_writable(Path::new("/proc/self")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn lines_go_to_disk_as_written() {
        let dir = tempdir();
        let (f, stem) = create_unique(&dir, "c").unwrap();
        let mut e = EventsFile::new(f);
        assert_eq!(e.write_line(b"{\"a\":1}"), Written::Ok);
        // No flush, no drop: the line is in the file already.
        let text = std::fs::read_to_string(stem.with_extension("jsonl")).unwrap();
        assert_eq!(text, "{\"a\":1}\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_full_device_loses_lines_whole_and_says_so_when_space_returns() {
        // /dev/full refuses every write with ENOSPC, as a full disk does.
        let Ok(full) = OpenOptions::new().write(true).open("/dev/full") else {
            panic!("/dev/full is missing: this test needs Linux");
        };
        let mut e = EventsFile::new(full);
        assert_eq!(e.write_line(b"{\"a\":1}"), Written::Failed);
        assert_eq!(e.write_line(b"{\"a\":2}"), Written::Failed);
        assert_eq!(e.lost(), 2);
        // Space returns: the same writer now on a file that takes lines.
        let dir = tempdir();
        let (f, stem) = create_unique(&dir, "c").unwrap();
        e.file = f;
        e.good_len = 0;
        assert_eq!(e.write_line(b"{\"t\":3.5,\"a\":3}"), Written::Resumed);
        assert_eq!(e.lost(), 0);
        let text = std::fs::read_to_string(stem.with_extension("jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["type"], "events_lost");
        assert_eq!(lines[0]["lines"], 2);
        assert_eq!(lines[0]["t"], 3.5);
        assert_eq!(lines[1]["a"], 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempdir() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let d = std::env::temp_dir().join(format!(
            "shoutcue-events-file-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
