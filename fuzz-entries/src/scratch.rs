//! Scratch block devices for the targets that do block I/O.

use std::path::PathBuf;

use ringtender_host::block::BlockDevice;

/// Capacity of a scratch block device: 64 sectors of 512 bytes.
pub const BLOCK_CAPACITY: u64 = 64 * 512;

/// A block device of [`BLOCK_CAPACITY`] zero bytes backed by a file in
/// memory (`/dev/shm` where there is one), unlinked once open.
pub fn block_device(name: &str) -> BlockDevice {
    let dir = Some(PathBuf::from("/dev/shm"))
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("ringtender-fuzz-{name}-{}.img", std::process::id()));
    std::fs::write(&path, vec![0u8; BLOCK_CAPACITY as usize]).expect("scratch block file");
    let device = BlockDevice::open(path.to_str().expect("UTF-8 path")).expect("open scratch file");
    std::fs::remove_file(&path).expect("unlink scratch file");
    device
}
