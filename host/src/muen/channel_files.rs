//! Channels in files: the memory the net and block peers share with a
//! subject when the peers are a process of their own (`solo5-muen-peer`).
//! On a Muen system a Linux subject reaches the channels the policy gives
//! it as files it maps; `solo5-muen-runner --channel-files=DIR` makes the
//! same thing on this machine, each device's channels and buffer a file in
//! DIR that backs that region of the subject's memory.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::TenderError;
use crate::guest_memory::{GuestRam, SharedFile};
use crate::muen::layout::{Role, SubjectLayout, PAGE};
use crate::muen::peers::{self, PeerRegion};
use crate::muen::Error;

/// The file name of the subject region `region_name` (`NAME|in` becomes
/// `NAME.in`: a `|` in file names trips up shells).
pub fn file_name(region_name: &str) -> String {
    region_name.replace('|', ".")
}

fn file_error(path: &Path, source: std::io::Error) -> TenderError {
    Error::ChannelFile {
        path: path.to_path_buf(),
        source,
    }
    .into()
}

/// Creates, in `dir`, one zero-filled file per channel and buffer of the
/// subject's devices, of the region's size, and returns each with the
/// region's guest address, for [`GuestRam::with_files`]. A file appears
/// under its name only once it has its full size, and an existing file of
/// that name is an error, never overwritten.
pub fn create(dir: &str, layout: &SubjectLayout) -> Result<Vec<SharedFile>, TenderError> {
    let dir = Path::new(dir);
    let mut files = Vec::new();
    for region in layout.regions.iter().filter(|r| r.device.is_some()) {
        let name = file_name(&region.name);
        let path = dir.join(&name);
        let partial = dir.join(format!(".{name}.partial"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(|e| file_error(&partial, e))?;
        file.set_len(region.size)
            .map_err(|e| file_error(&partial, e))?;
        let linked = std::fs::hard_link(&partial, &path);
        let _ = std::fs::remove_file(&partial);
        linked.map_err(|e| file_error(&path, e))?;
        files.push(SharedFile {
            gpa: region.gpa,
            file,
            writable: true,
        });
    }
    Ok(files)
}

/// One channel file the peers serve.
pub struct ChannelFile {
    /// The device's handle among the peers' devices.
    pub device: usize,
    /// Which of the device's channels, or its buffer.
    pub role: Role,
    /// The file.
    pub path: PathBuf,
}

/// Whether the peers write the channel of `role` (else they only read it,
/// and a Muen Linux subject gets its file read-only).
fn peers_write(role: Role) -> bool {
    matches!(role, Role::NetIn | Role::BlockResponse | Role::BlockBuffer)
}

/// Maps every one of `channels` shared into one [`GuestRam`], each at its
/// own page-aligned address, writable only if the peers write it, with
/// the peers' I/O allowed where [`peers::io_ranges`] says; the memory and
/// where each channel lies.
pub fn map(channels: &[ChannelFile]) -> Result<(Arc<GuestRam>, Vec<PeerRegion>), TenderError> {
    let mut files = Vec::new();
    let mut regions = Vec::new();
    let mut cursor = 0u64;
    for channel in channels {
        let writable = peers_write(channel.role);
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&channel.path)
            .map_err(|e| file_error(&channel.path, e))?;
        let size = file
            .metadata()
            .map_err(|e| file_error(&channel.path, e))?
            .len();
        if size == 0 {
            return Err(Error::EmptyChannelFile(channel.path.clone()).into());
        }
        regions.push(PeerRegion {
            role: channel.role,
            device: channel.device,
            gpa: cursor,
            size,
        });
        files.push(SharedFile {
            gpa: cursor,
            file,
            writable,
        });
        cursor = cursor
            .checked_add(size.next_multiple_of(PAGE))
            .ok_or(Error::ChannelFilesTooLarge)?;
    }
    let mut ram = GuestRam::with_files(cursor, files)?;
    let (readable, writable) = peers::io_ranges(&regions);
    ram.set_guest_access(readable, writable);
    Ok((Arc::new(ram), regions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_become_file_names_without_bars() {
        assert_eq!(file_name("service0|in"), "service0.in");
        assert_eq!(file_name("storage|buffer"), "storage.buffer");
    }

    #[test]
    fn mapped_files_are_shared_with_the_file_and_laid_out_page_aligned() {
        let dir = std::env::temp_dir().join(format!("ringtender-chf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a");
        let b = dir.join("b");
        std::fs::write(&a, vec![0u8; 100]).unwrap();
        // What the peers only read may be a read-only file (as on Muen).
        let mut read_only = std::fs::metadata(&a).unwrap().permissions();
        read_only.set_readonly(true);
        std::fs::set_permissions(&a, read_only).unwrap();
        std::fs::write(&b, vec![0u8; 0x2000]).unwrap();
        let channels = [
            ChannelFile {
                device: 0,
                role: Role::NetOut,
                path: a.clone(),
            },
            ChannelFile {
                device: 0,
                role: Role::NetIn,
                path: b.clone(),
            },
        ];
        let (ram, regions) = map(&channels).unwrap();
        assert_eq!(
            regions.iter().map(|r| (r.gpa, r.size)).collect::<Vec<_>>(),
            [(0, 100), (0x1000, 0x2000)]
        );
        ram.setup_write(0x1000 + 0x1ff8, &[7; 8]).unwrap();
        assert_eq!(&std::fs::read(&b).unwrap()[0x1ff8..], &[7; 8]);
        // Mapped shared, read-only where the peers only read.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let rights = |path: &Path| {
            let line = maps
                .lines()
                .find(|l| l.ends_with(path.to_str().unwrap()))
                .unwrap();
            line.split_whitespace().nth(1).unwrap().to_string()
        };
        assert_eq!((rights(&a), rights(&b)), ("r--s".into(), "rw-s".into()));
        // The peers may write only what they write to the subject.
        assert!(ram.check_writable(0x1000, 0x2000).is_ok());
        assert!(ram.check_writable(0, 100).is_err());
        assert!(ram.check_readable(0, 100).is_ok());
        std::fs::remove_file(&a).unwrap();
        std::fs::write(&a, b"").unwrap();
        assert!(map(&channels[..1]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
