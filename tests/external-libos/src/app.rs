//! Writes a pattern over the first blocks of its "storage" device in one
//! batch of ring requests and a flush, reads it back in a second batch and
//! compares; prints its command line first and SUCCESS at the end.

use ringtender_guest::api::{self, StartInfo, SOLO5_R_OK};
use ringtender_guest::manifest::{ManifestNote, MFT_DEV_BLOCK_BASIC};
use ringtender_guest::rings::{
    self, BlockOp, DeviceRings, BLOCK_KIND_READ, BLOCK_KIND_SYNC, BLOCK_KIND_WRITE, BLOCK_STATUS_OK,
};
use ringtender_sync_shim as _;

#[used]
#[link_section = ".note.solo5.manifest"]
static MANIFEST: ManifestNote<2> = ManifestNote::new(&[("storage", MFT_DEV_BLOCK_BASIC)]);

/// Requests per batch, each of `CHUNK` bytes.
const REQUESTS: usize = 8;
const CHUNK: usize = 4096;
/// The flush's tag.
const FLUSH_TAG: u32 = 100;

static mut WRITTEN: [[u8; CHUNK]; REQUESTS] = [[0; CHUNK]; REQUESTS];
static mut READ: [[u8; CHUNK]; REQUESTS] = [[0; CHUNK]; REQUESTS];

fn fail(why: &str) -> i32 {
    api::console_write(b"FAILURE: ");
    api::console_write(why.as_bytes());
    api::console_write(b"\n");
    1
}

fn request(kind: u16, index: usize, buffer: &[u8; CHUNK]) -> BlockOp {
    BlockOp {
        kind,
        tag: index as u32,
        offset: (index * CHUNK) as u64,
        buffer: buffer.as_ptr() as u64,
        length: CHUNK as u64,
    }
}

/// Reaps `count` completions, yielding while none is there; false if one
/// failed.
fn reap_all(ring: &mut rings::BlockRings, count: usize) -> bool {
    let mut reaped = 0;
    while reaped < count {
        match ring.reap() {
            Some(done) if done.status == BLOCK_STATUS_OK => reaped += 1,
            Some(_) => return false,
            None => {
                api::yield_until(api::clock_monotonic() + 1_000_000);
            }
        }
    }
    true
}

/// The application's entry point.
#[no_mangle]
pub extern "C" fn solo5_app_main(info: &StartInfo) -> i32 {
    // SAFETY: the bindings pass a NUL-terminated command line.
    let cmdline = unsafe { core::ffi::CStr::from_ptr(info.cmdline as *const core::ffi::c_char) };
    api::console_write(b"ringblk, command line: '");
    api::console_write(cmdline.to_bytes());
    api::console_write(b"'\n");
    let Some((handle, block)) = api::block_acquire("storage") else {
        return fail("acquire");
    };
    if !(CHUNK as u64).is_multiple_of(block.block_size)
        || block.capacity < (REQUESTS * CHUNK) as u64
    {
        return fail("device too small");
    }
    let Some(DeviceRings::Block(ring)) = rings::device(handle) else {
        return fail("no block rings");
    };
    // SAFETY: the only users of the buffers, single-threaded.
    let (written, read) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(WRITTEN),
            &mut *core::ptr::addr_of_mut!(READ),
        )
    };
    for (i, chunk) in written.iter_mut().enumerate() {
        for (j, byte) in chunk.iter_mut().enumerate() {
            *byte = (i * 7 + j) as u8;
        }
    }
    let flush = BlockOp {
        kind: BLOCK_KIND_SYNC,
        tag: FLUSH_TAG,
        offset: 0,
        buffer: 0,
        length: 0,
    };
    let writes = written
        .iter()
        .enumerate()
        .map(|(i, b)| request(BLOCK_KIND_WRITE, i, b));
    if ring.submit_batch(writes.chain([flush])) != REQUESTS + 1 {
        return fail("write batch not taken");
    }
    if !reap_all(ring, REQUESTS + 1) {
        return fail("write");
    }
    let reads = read
        .iter()
        .enumerate()
        .map(|(i, b)| request(BLOCK_KIND_READ, i, b));
    if ring.submit_batch(reads) != REQUESTS {
        return fail("read batch not taken");
    }
    if !reap_all(ring, REQUESTS) {
        return fail("read");
    }
    if written != read {
        return fail("read back differs");
    }
    // The classic API sees the same data.
    if api::block_read(handle, 0, &mut read[0][..block.block_size as usize]) != SOLO5_R_OK
        || read[0][..block.block_size as usize] != written[0][..block.block_size as usize]
    {
        return fail("classic read");
    }
    api::console_write(b"SUCCESS\n");
    0
}
