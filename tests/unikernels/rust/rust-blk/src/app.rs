//! Rust block test: patterns over many blocks, and the API's refusals.

use ringtender_abi::mft::MFT_DEV_BLOCK_BASIC;
use ringtender_abi::solo5::{SOLO5_R_EINVAL, SOLO5_R_OK};
use ringtender_guest::api::{self, StartInfo};
use ringtender_guest::manifest::ManifestNote;
use ringtender_sync_shim as _;

#[used]
#[link_section = ".note.solo5.manifest"]
static MANIFEST: ManifestNote<2> = ManifestNote::new(&[("storage", MFT_DEV_BLOCK_BASIC)]);

static mut BUFFERS: [[u8; 4096]; 2] = [[0; 4096]; 2];

fn fail(why: &str) -> i32 {
    api::console_write(b"FAILURE: ");
    api::console_write(why.as_bytes());
    api::console_write(b"\n");
    1
}

/// The application's entry point.
#[no_mangle]
pub extern "C" fn solo5_app_main(_info: &StartInfo) -> i32 {
    let Some((handle, info)) = api::block_acquire("storage") else {
        return fail("acquire");
    };
    let bs = info.block_size as usize;
    // SAFETY: the only user of BUFFERS, single-threaded.
    let [wbuf, rbuf] = unsafe { &mut *core::ptr::addr_of_mut!(BUFFERS) };
    if bs > wbuf.len() {
        return fail("block size");
    }
    let blocks = info.capacity / bs as u64;
    for block in (0..blocks).step_by(7) {
        for (i, b) in wbuf[..bs].iter_mut().enumerate() {
            *b = (block as usize * 31 + i) as u8;
        }
        if api::block_write(handle, block * bs as u64, &wbuf[..bs]) != SOLO5_R_OK {
            return fail("write");
        }
        if api::block_read(handle, block * bs as u64, &mut rbuf[..bs]) != SOLO5_R_OK
            || wbuf[..bs] != rbuf[..bs]
        {
            return fail("read back");
        }
    }
    if api::block_read(handle, info.capacity, &mut rbuf[..bs]) != SOLO5_R_EINVAL {
        return fail("out of range accepted");
    }
    if api::block_write(handle, 3, &wbuf[..bs]) != SOLO5_R_EINVAL {
        return fail("misaligned accepted");
    }
    if api::block_write(handle, 0, &wbuf[..bs - 1]) != SOLO5_R_EINVAL {
        return fail("short write accepted");
    }
    api::console_write(b"SUCCESS\n");
    0
}
