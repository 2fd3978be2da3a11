//! What the tests that run `shoutcue serve` as a process share: a child
//! killed however a test ends, waiting for a line on its stderr, and an
//! AudioSocket leg that streams a fixture at real time.
#![allow(dead_code)] // each test file uses its own part
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_shoutcue");

/// A child process killed when the test ends, however it ends.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `shoutcue ARGS` and waits for a stderr line holding `marker`;
/// returns the process, that line, and the rest of stderr as it comes.
pub fn start(args: &[&str], marker: &str) -> (Proc, String, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("SHOUTCUE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let p = Proc(child);
    let t0 = Instant::now();
    let mut seen = Vec::new();
    loop {
        let left = Duration::from_secs(20).saturating_sub(t0.elapsed());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(marker) => return (p, l, rx),
            Ok(l) => seen.push(l),
            Err(_) => panic!(
                "shoutcue {args:?}: no {marker:?} on stderr; got:\n{}",
                seen.join("\n")
            ),
        }
    }
}

/// The address after `scheme://` in a line such as `... tcp://127.0.0.1:5/`.
pub fn addr_after(line: &str, scheme: &str) -> String {
    let rest = &line[line.find(scheme).unwrap() + scheme.len()..];
    rest.split(['/', ' ']).next().unwrap().to_string()
}

/// One AudioSocket leg: a lone connection (a mono customer call) streaming
/// `fixture` at real time, 20 ms frames, until `stop` or the file's end;
/// sends a hangup at the end when `hangup`.
pub fn audiosocket_call(
    addr: SocketAddr,
    uuid_byte: u8,
    fixture: &str,
    hangup_after: Option<Duration>,
) -> std::thread::JoinHandle<()> {
    let mut r = hound::WavReader::open(shoutcue_testkit::fixture(fixture)).unwrap();
    let samples: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    std::thread::spawn(move || {
        let Ok(mut s) = TcpStream::connect(addr) else {
            return;
        };
        let mut id = [0u8; 16];
        id[0] = uuid_byte;
        id[15] = 0x07; // not a role byte: a call of its own
        let mut head = vec![0x01, 0, 16];
        head.extend_from_slice(&id);
        if s.write_all(&head).is_err() {
            return;
        }
        let t0 = Instant::now();
        for (i, chunk) in samples.chunks(160).cycle().enumerate() {
            let mut f = vec![0x10, 0, 0];
            let n = (chunk.len() * 2) as u16;
            f[1..3].copy_from_slice(&n.to_be_bytes());
            for v in chunk {
                f.extend_from_slice(&v.to_le_bytes());
            }
            if s.write_all(&f).is_err() {
                return;
            }
            let due = Duration::from_millis(20 * (i as u64 + 1));
            if hangup_after.is_some_and(|h| due >= h) {
                let _ = s.write_all(&[0x00, 0, 0]);
                let mut sink = [0u8; 64];
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.read(&mut sink);
                return;
            }
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    })
}
