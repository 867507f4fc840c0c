//! The console of a Muen subject: the "debuglog" channel (Muen's
//! `libmudebuglog`), written as upstream's bindings write it. Text is
//! gathered into 56-byte elements stamped with the minor frame's start;
//! an element goes out at a newline or when full (NUL-padded, a full one
//! has no NUL), NUL and carriage return are dropped. Without a "debuglog"
//! channel, output goes nowhere.

use ringtender_muen_compat::subject::{
    names, DebuglogElement, DEBUGLOG_ELEMENT_SIZE, DEBUGLOG_TEXT_SIZE,
};
use ringtender_muen_compat::{RawRegion, Writer, DEBUGLOG_PROTOCOL};

use super::BootCell;

/// The channel and the element being filled.
struct Console {
    channel: Writer<RawRegion>,
    line: [u8; DEBUGLOG_TEXT_SIZE],
    len: usize,
}

static CONSOLE: BootCell<Console> = BootCell::new();

/// Initialises the "debuglog" channel as its writer (epoch: the minor
/// frame's start). Done first at start-up, so every later line is seen.
pub fn init() {
    let Some(region) = super::channel(names::DEBUGLOG.as_bytes(), true) else {
        return;
    };
    // SAFETY: the sinfo names this writable channel, mapped for our life.
    let memory = unsafe { super::shared(&region) };
    if let Ok(channel) = Writer::init(
        memory,
        DEBUGLOG_PROTOCOL,
        DEBUGLOG_ELEMENT_SIZE,
        super::epoch(),
    ) {
        CONSOLE.set(Console {
            channel,
            line: [0; DEBUGLOG_TEXT_SIZE],
            len: 0,
        });
    }
}

impl Console {
    fn flush(&mut self) {
        // The element is NUL-padded: `new` copies `len` bytes into zeroes.
        if let Some(element) = DebuglogElement::new(super::sched_start(), &self.line[..self.len]) {
            // Exactly one element: the writer accepts it.
            let _ = self.channel.write(bytemuck::bytes_of(&element));
        }
        self.len = 0;
    }
}

/// Writes `bytes` to the debug log.
pub fn write(bytes: &[u8]) {
    let Some(console) = CONSOLE.get() else {
        return;
    };
    for &b in bytes.iter().filter(|&&b| b != 0 && b != b'\r') {
        console.line[console.len] = b;
        console.len += 1;
        if b == b'\n' || console.len == DEBUGLOG_TEXT_SIZE {
            console.flush();
        }
    }
}
