//! SIGINT and SIGTERM end the tender with upstream's message and status 1.

use std::io;

const PREFIX: &[u8] = b"solo5-hvt: Exiting on signal ";

extern "C" fn on_signal(signal: libc::c_int) {
    let mut line = [0u8; 64];
    let mut len = PREFIX.len();
    line[..len].copy_from_slice(PREFIX);
    let mut n = signal.unsigned_abs();
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    line[len..len + buf.len() - i].copy_from_slice(&buf[i..]);
    len += buf.len() - i;
    line[len] = b'\n';
    len += 1;
    // SAFETY: write(2) and _exit(2) are async-signal-safe; `line` is a local buffer.
    unsafe {
        libc::write(2, line.as_ptr() as *const libc::c_void, len);
        libc::_exit(1);
    }
}

/// Installs the handlers.
pub fn install() -> io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only makes
        // async-signal-safe calls.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
