//! The subject's debug log: a reader of the "debuglog" channel that prints
//! each element's text to stdout (as Muen's debug server would print the
//! subject's log, without its timestamps), and that derives the exit status
//! from what Solo5 prints on its way out, since a Muen subject has no other
//! way to give one.

use std::io::Write;

use ringtender_abi::solo5::SOLO5_EXIT_ABORT;
use ringtender_muen_compat::subject::{DebuglogElement, DEBUGLOG_ELEMENT_SIZE};
use ringtender_muen_compat::{ReadResult, Reader, DEBUGLOG_PROTOCOL};

use crate::rings::GuestRegion;

/// A line longer than this is judged and dropped without waiting for its end.
const LINE_MAX: usize = 4096;
/// Most elements one [`Console::drain`] takes (the channel holds 2047).
const DRAIN_MAX: usize = 4096;

/// The exit status a line of Solo5's output announces, if any:
/// "solo5_exit(N) called" gives N, an abort 255.
pub fn exit_status_of(line: &[u8]) -> Option<i32> {
    let text = String::from_utf8_lossy(line);
    if text.contains("Solo5: ABORT") || text.contains("solo5_abort() called") {
        return Some(SOLO5_EXIT_ABORT);
    }
    let rest = &text[text.find("solo5_exit(")? + "solo5_exit(".len()..];
    let number = &rest[..rest.find(") called")?];
    number.parse::<i32>().ok()
}

/// The debug log reader.
pub struct Console {
    reader: Reader<GuestRegion>,
    line: Vec<u8>,
    status: Option<i32>,
}

impl Console {
    /// A reader of the debug log channel in `region`.
    pub fn new(region: GuestRegion) -> Self {
        Self {
            reader: Reader::new(region, DEBUGLOG_PROTOCOL, DEBUGLOG_ELEMENT_SIZE)
                .expect("the debug log region holds a header"),
            line: Vec::new(),
            status: None,
        }
    }

    /// Prints what the subject logged since the last call; an overrun
    /// (the subject wrote faster than we read) resynchronises, skipping
    /// what was lost.
    pub fn drain(&mut self) {
        let mut out = std::io::stdout().lock();
        let mut element = [0u8; DEBUGLOG_ELEMENT_SIZE];
        for _ in 0..DRAIN_MAX {
            match self.reader.read(&mut element) {
                ReadResult::Success => {
                    let element: DebuglogElement = bytemuck::pod_read_unaligned(&element);
                    let text = element.text();
                    let _ = out.write_all(text);
                    self.track(text);
                }
                ReadResult::EpochChanged => {}
                ReadResult::OverrunDetected => self.reader.drain(),
                ReadResult::Inactive | ReadResult::NoData | ReadResult::IncompatibleInterface => {
                    break
                }
            }
        }
        let _ = out.flush();
    }

    fn track(&mut self, text: &[u8]) {
        for &byte in text {
            if byte == b'\n' || self.line.len() == LINE_MAX {
                self.end_line();
            }
            if byte != b'\n' {
                self.line.push(byte);
            }
        }
    }

    fn end_line(&mut self) {
        if let Some(status) = exit_status_of(&self.line) {
            self.status = Some(status);
        }
        self.line.clear();
    }

    /// The exit status the log announced (0 if none: a subject that halts
    /// without saying, e.g. with `--solo5:quiet`).
    pub fn exit_status(&mut self) -> i32 {
        self.drain();
        self.end_line();
        self.status.unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_lines_give_the_status() {
        assert_eq!(exit_status_of(b"Solo5: solo5_exit(3) called"), Some(3));
        assert_eq!(exit_status_of(b"Solo5: solo5_exit(-1) called"), Some(-1));
        assert_eq!(exit_status_of(b"Solo5: solo5_abort() called"), Some(255));
        assert_eq!(
            exit_status_of(b"Solo5: ABORT: cpu_x86_64.c:171: trap"),
            Some(255)
        );
        assert_eq!(exit_status_of(b"Solo5: solo5_exit(x) called"), None);
        assert_eq!(exit_status_of(b"Solo5: Halted"), None);
        assert_eq!(exit_status_of(b"solo5_exit(7"), None);
    }
}
