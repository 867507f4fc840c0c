//! A slow block operation on one device holds up no other device.
//!
//! The guest's block file is a FUSE file whose server (this test) holds the
//! first read until the frames the guest sends meanwhile on its net device
//! have reached the tap. The event-driven worker leaves the read in flight
//! (io_uring runs it in an io-wq thread) and goes on sending frames; a
//! worker that waited for each block batch sent none until the read ended,
//! so the server held it until the tests' hang guard and the test failed.
//! On spt with `RINGTENDER_TEST_TARGET=spt` (the worker process).
//!
//! The portable engine completes each operation as it starts it (Cloud
//! Hypervisor's synchronous engine does the same), so the test names the
//! io_uring engine.

mod common;

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{start_in_ns, tap_counter, unikernel, wait, NetNs, TapCounter, TempDir, HANG_GUARD};

/// Frames the guest sends while its read is held: several tx rings full.
const FRAMES: u64 = 2000;
/// Size of the held file.
const FILE_SIZE: u64 = 1 << 20;
/// Largest request the server takes (the kernel's buffer rule: at least
/// `max_write` plus a page).
const MAX_WRITE: u32 = 128 * 1024;

// FUSE opcodes and structure sizes (`linux/fuse.h`).
const FUSE_GETATTR: u32 = 3;
const FUSE_OPEN: u32 = 14;
const FUSE_READ: u32 = 15;
const FUSE_WRITE: u32 = 16;
const FUSE_RELEASE: u32 = 18;
const FUSE_FSYNC: u32 = 20;
const FUSE_FLUSH: u32 = 25;
const FUSE_INIT: u32 = 26;
const FUSE_FORGET: u32 = 2;
const FUSE_INTERRUPT: u32 = 36;
const FUSE_BATCH_FORGET: u32 = 42;
const IN_HEADER: usize = 40;
const FUSE_ASYNC_READ: u32 = 1;

/// What the server saw.
#[derive(Debug, Default)]
struct Held {
    /// READ requests answered.
    reads: u64,
    /// Frames on the tap when the first read was let go.
    frames_at_release: u64,
}

/// A one-file FUSE filesystem mounted over `mountpoint`, of [`FILE_SIZE`]
/// zero bytes, whose first read waits until [`FRAMES`] frames have reached
/// tap0 (or the hang guard passes).
struct HeldFile {
    mountpoint: std::path::PathBuf,
    server: Option<JoinHandle<Held>>,
}

impl HeldFile {
    fn mount(ns: &NetNs, mountpoint: &Path) -> Self {
        // SAFETY: open(2) of a NUL-terminated path; the result is checked.
        let fd = unsafe { libc::open(c"/dev/fuse".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        assert!(fd >= 0, "/dev/fuse: {}", std::io::Error::last_os_error());
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let fuse = unsafe { OwnedFd::from_raw_fd(fd) };
        let options = format!(
            "fd={},rootmode=100644,user_id=0,group_id=0,allow_other\0",
            fuse.as_raw_fd()
        );
        let target = format!("{}\0", mountpoint.display());
        // SAFETY: mount(2) with NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                c"ringtender-held".as_ptr(),
                target.as_ptr().cast(),
                c"fuse".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                options.as_ptr().cast(),
            )
        };
        assert_eq!(rc, 0, "mount: {}", std::io::Error::last_os_error());
        let server = ns.on_thread(move || serve(&fuse));
        Self {
            mountpoint: mountpoint.to_path_buf(),
            server: Some(server),
        }
    }

    /// Unmounts and returns what the server saw.
    fn finish(mut self) -> Held {
        self.unmount();
        self.server.take().unwrap().join().unwrap()
    }

    fn unmount(&self) {
        let target = format!("{}\0", self.mountpoint.display());
        // SAFETY: umount2(2) of a NUL-terminated path.
        unsafe { libc::umount2(target.as_ptr().cast(), libc::MNT_DETACH) };
    }
}

impl Drop for HeldFile {
    fn drop(&mut self) {
        if self.server.is_some() {
            self.unmount();
        }
    }
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap())
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(buf[at..at + 8].try_into().unwrap())
}

/// Answers request `unique` with `error` (a negative errno or 0) and `body`.
fn reply(fuse: &OwnedFd, unique: u64, error: i32, body: &[u8]) {
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    out.extend_from_slice(&error.to_ne_bytes());
    out.extend_from_slice(&unique.to_ne_bytes());
    out.extend_from_slice(body);
    // SAFETY: `out` is readable for its length. An interrupted request
    // (ENOENT) needs no answer, so the result is not checked.
    unsafe { libc::write(fuse.as_raw_fd(), out.as_ptr().cast(), out.len()) };
}

/// `fuse_init_out`: protocol 7.31, asynchronous reads (as libfuse asks by
/// default; without them the kernel's readahead waits for the server in
/// the thread that reads, which then is the worker's `io_uring_enter`).
fn init_out() -> Vec<u8> {
    let mut out = vec![0u8; 64];
    out[0..4].copy_from_slice(&7u32.to_ne_bytes());
    out[4..8].copy_from_slice(&31u32.to_ne_bytes());
    out[8..12].copy_from_slice(&MAX_WRITE.to_ne_bytes());
    out[12..16].copy_from_slice(&FUSE_ASYNC_READ.to_ne_bytes());
    out[16..18].copy_from_slice(&16u16.to_ne_bytes());
    out[18..20].copy_from_slice(&12u16.to_ne_bytes());
    out[20..24].copy_from_slice(&MAX_WRITE.to_ne_bytes());
    out[24..28].copy_from_slice(&1u32.to_ne_bytes());
    out
}

/// `fuse_attr_out` of the one file (inode 1).
fn attr_out() -> Vec<u8> {
    let mut out = vec![0u8; 104];
    // attr_valid, attr_valid_nsec, dummy: 16 bytes; then fuse_attr.
    let attr = 16;
    out[attr..attr + 8].copy_from_slice(&1u64.to_ne_bytes());
    out[attr + 8..attr + 16].copy_from_slice(&FILE_SIZE.to_ne_bytes());
    out[attr + 16..attr + 24].copy_from_slice(&(FILE_SIZE / 512).to_ne_bytes());
    // After six u64s and three u32 nanoseconds: mode, nlink, uid, gid, rdev, blksize.
    let mode = attr + 60;
    out[mode..mode + 4].copy_from_slice(&(libc::S_IFREG | 0o644).to_ne_bytes());
    out[mode + 4..mode + 8].copy_from_slice(&1u32.to_ne_bytes());
    out[mode + 20..mode + 24].copy_from_slice(&4096u32.to_ne_bytes());
    out
}

/// Serves the file until it is unmounted.
fn serve(fuse: &OwnedFd) -> Held {
    let mut held = Held::default();
    let mut buf = vec![0u8; MAX_WRITE as usize + 4096];
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(fuse.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) | Some(libc::ENOENT) => continue,
                // Unmounted.
                _ => return held,
            }
        }
        let request = &buf[..n as usize];
        let (opcode, unique) = (u32_at(request, 4), u64_at(request, 8));
        match opcode {
            FUSE_INIT => reply(fuse, unique, 0, &init_out()),
            FUSE_GETATTR => reply(fuse, unique, 0, &attr_out()),
            // fuse_open_out: fh 1, no flags.
            FUSE_OPEN => reply(
                fuse,
                unique,
                0,
                &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ),
            FUSE_READ => {
                if held.reads == 0 {
                    held.frames_at_release = hold_until_frames();
                }
                held.reads += 1;
                let offset = u64_at(request, IN_HEADER + 8);
                let size = u64::from(u32_at(request, IN_HEADER + 16));
                let len = size.min(FILE_SIZE.saturating_sub(offset));
                reply(fuse, unique, 0, &vec![0u8; len as usize]);
            }
            FUSE_WRITE => {
                // fuse_write_out: the size written.
                let size = u32_at(request, IN_HEADER + 16);
                reply(fuse, unique, 0, &[size.to_ne_bytes(), [0; 4]].concat());
            }
            FUSE_FSYNC | FUSE_FLUSH | FUSE_RELEASE => reply(fuse, unique, 0, &[]),
            FUSE_FORGET | FUSE_BATCH_FORGET | FUSE_INTERRUPT => {}
            _ => reply(fuse, unique, -libc::ENOSYS, &[]),
        }
    }
}

/// Waits until [`FRAMES`] frames have reached tap0 (in this thread's
/// namespace), or the hang guard passes; the frames on the tap then.
fn hold_until_frames() -> u64 {
    let start = Instant::now();
    loop {
        let frames = tap_counter("tap0", TapCounter::RxPackets);
        if frames >= FRAMES || start.elapsed() > HANG_GUARD {
            return frames;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_held_block_read_does_not_stop_the_nic() {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let dir = TempDir::new();
    let image = dir.zero_file("held.img", 0);
    let held_file = HeldFile::mount(&ns, &image);
    let block = format!("--block:storage={}", image.display());
    let path = unikernel("ringapi");
    let frames = FRAMES.to_string();
    let args = [
        "--engine=uring",
        "--mem=16",
        "--net:service0=tap0",
        &block,
        "--",
        path.to_str().unwrap(),
        "stall",
        &frames,
    ];
    let (child, log) = start_in_ns(&ns, &args, &dir, "Ready");
    let out = wait(child);
    let stdout = fs::read_to_string(&log).unwrap();
    let held = held_file.finish();
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert!(
        stdout.contains(&format!("frames {FRAMES} read_done_first 0")),
        "{stdout}"
    );
    assert!(held.reads > 0, "the guest's read never reached the file");
    assert!(
        held.frames_at_release >= FRAMES,
        "the read was let go after the hang guard with {} of {FRAMES} frames on the tap: \
         the held read stopped the NIC",
        held.frames_at_release
    );
}
