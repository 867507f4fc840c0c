//! Rust hello: prints its command line through the guest crate's API.

use ringtender_guest::api::{self, StartInfo};
use ringtender_guest::manifest::ManifestNote;
use ringtender_sync_shim as _;

#[used]
#[link_section = ".note.solo5.manifest"]
static MANIFEST: ManifestNote<1> = ManifestNote::new(&[]);

/// The application's entry point.
#[no_mangle]
pub extern "C" fn solo5_app_main(info: &StartInfo) -> i32 {
    // SAFETY: the bindings pass a NUL-terminated command line.
    let cmdline = unsafe { core::ffi::CStr::from_ptr(info.cmdline as *const core::ffi::c_char) };
    api::console_write(b"Hello from Rust, command line: '");
    api::console_write(cmdline.to_bytes());
    api::console_write(b"'\n");
    if cmdline.to_bytes() != b"Hello_Solo5" {
        api::console_write(b"FAILURE\n");
        return 1;
    }
    api::console_write(b"SUCCESS\n");
    0
}
