//! Console output (PUTS hypercall on hvt, `write(1)` on spt, the debug log
//! channel on muen) and the bindings' log levels.

use core::cell::UnsafeCell;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use ringtender_abi::hvt::{HcPuts, Hypercall};

use crate::hypercall::hypercall;
use crate::platform::{target, Target};
use crate::{muen, spt};

/// Log levels, as `--solo5:<level>` selects them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Errors only (`--solo5:quiet`, `--solo5:error`).
    Error = 0,
    /// Warnings.
    Warn = 1,
    /// Information: the banner and memory map (the default).
    Info = 2,
    /// Debugging.
    Debug = 3,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Sets the log level.
pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether messages at `level` are printed.
pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes `bytes` to the console; best effort, never fails.
pub fn write(bytes: &[u8]) {
    match target() {
        Target::Hvt => {
            let mut arg = HcPuts {
                data: bytes.as_ptr() as u64,
                len: bytes.len() as u64,
            };
            hypercall(Hypercall::Puts, &mut arg);
        }
        Target::Spt => spt::console_write(bytes),
        Target::Muen => muen::console::write(bytes),
    }
}

/// A formatting buffer of upstream's size; longer output is truncated.
struct LineBuffer {
    buf: [u8; 320],
    len: usize,
    truncated: bool,
}

impl Write for LineBuffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        self.truncated |= n < s.len();
        Ok(())
    }
}

/// Bytes of boot output [`hold`] keeps (the banner and memory map take
/// about 300).
const HELD_BYTES: usize = 1024;

/// Log output held back while the bindings boot.
struct Held(UnsafeCell<([u8; HELD_BYTES], usize)>);

// SAFETY: the guest has one vCPU and no interrupts; the buffer is only ever
// used from that one thread of execution, never re-entrantly.
unsafe impl Sync for Held {}

static HELD: Held = Held(UnsafeCell::new(([0; HELD_BYTES], 0)));
static HOLDING: AtomicBool = AtomicBool::new(false);

/// Holds log output back until [`release`]: on hvt every console write is
/// a VM exit (tens of microseconds, more under PVM), and the boot banner
/// and memory map are seven lines, so they go out as one write.
pub fn hold() {
    HOLDING.store(true, Ordering::Relaxed);
}

/// Writes what [`hold`] held back, in one console write, and stops holding.
pub fn release() {
    HOLDING.store(false, Ordering::Relaxed);
    flush_held();
}

fn flush_held() {
    // SAFETY: single thread of execution (see `Held`); no other reference
    // to the buffer is live.
    let (buf, len) = unsafe { &mut *HELD.0.get() };
    if *len > 0 {
        write(&buf[..*len]);
        *len = 0;
    }
}

/// Writes `bytes` now, or appends them to the held output while holding.
fn emit(bytes: &[u8]) {
    if !HOLDING.load(Ordering::Relaxed) {
        write(bytes);
        return;
    }
    // SAFETY: as in `flush_held`; the reference ends before it is called.
    let room = unsafe { HELD_BYTES - (*HELD.0.get()).1 };
    if bytes.len() > room {
        flush_held();
    }
    if bytes.len() > HELD_BYTES {
        write(bytes);
        return;
    }
    // SAFETY: as in `flush_held`.
    let (buf, len) = unsafe { &mut *HELD.0.get() };
    buf[*len..*len + bytes.len()].copy_from_slice(bytes);
    *len += bytes.len();
}

/// Formats and prints a log line at `level`.
pub fn log(level: Level, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut line = LineBuffer {
        buf: [0; 320],
        len: 0,
        truncated: false,
    };
    let _ = line.write_fmt(args);
    emit(&line.buf[..line.len]);
    if line.truncated {
        emit(b"(truncated)\n");
    }
}

/// Logs at a level: `log!(Info, "Solo5: ...\n", args)`.
#[macro_export]
macro_rules! log {
    ($level:ident, $($arg:tt)*) => {
        $crate::console::log($crate::console::Level::$level, format_args!($($arg)*))
    };
}
