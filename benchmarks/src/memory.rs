//! Resident memory of a tender's process tree (the tender and every
//! process it started: on spt the guest and the I/O worker).
//!
//! Two figures: the distinct physical pages mapped by any process of the
//! tree (a page they share, such as libc's text or the rings' shared
//! memory, counts once; for a one-process tender this is its RSS), and the
//! sum of the processes' PSS (pages shared with other processes count
//! their share). Guest RAM counts as far as it is resident: the pages the
//! tender loaded or the guest touched.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::FileExt;

use crate::error::BenchError;

/// Present bit of a `/proc/PID/pagemap` entry.
const PAGEMAP_PRESENT: u64 = 1 << 63;
/// Page frame number bits of a `/proc/PID/pagemap` entry (root only).
const PAGEMAP_PFN: u64 = (1 << 55) - 1;
const PAGE: u64 = 4096;

/// What a process tree keeps resident.
pub struct TreeMemory {
    /// KiB of distinct pages mapped by any process of the tree.
    pub resident_kib: u64,
    /// Sum of the processes' PSS, KiB.
    pub pss_kib: u64,
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> BenchError {
    move |e| BenchError::Run(format!("{what}: {e}"))
}

/// `root` and its descendants.
fn tree(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "PID (comm) STATE PPID ...": comm may hold spaces; split after ')'.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
            Some((pid, ppid.parse().ok()?))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    found
}

/// Adds the frame numbers of `pid`'s present pages to `frames`.
fn add_frames(pid: u32, frames: &mut HashSet<u64>) -> Result<(), BenchError> {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(io_err(format!("/proc/{pid}/maps")))?;
    let pagemap = fs::File::open(format!("/proc/{pid}/pagemap"))
        .map_err(io_err(format!("/proc/{pid}/pagemap")))?;
    for line in maps.lines() {
        let mut words = line.split_whitespace();
        let (Some(range), Some(perms)) = (words.next(), words.next()) else {
            continue;
        };
        // Inaccessible reservations hold no pages; [vsyscall] has no entry.
        if perms.starts_with("---") || line.ends_with("[vsyscall]") {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        else {
            continue;
        };
        let mut entries = vec![0u8; ((end - start) / PAGE * 8) as usize];
        pagemap
            .read_exact_at(&mut entries, start / PAGE * 8)
            .map_err(io_err(format!("/proc/{pid}/pagemap")))?;
        for entry in entries.chunks_exact(8) {
            let entry = u64::from_le_bytes(entry.try_into().expect("8 bytes"));
            if entry & PAGEMAP_PRESENT != 0 {
                frames.insert(entry & PAGEMAP_PFN);
            }
        }
    }
    Ok(())
}

fn pss_kib(pid: u32) -> Result<u64, BenchError> {
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .map_err(io_err(format!("/proc/{pid}/smaps_rollup")))?;
    Ok(rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0))
}

/// Measures the tree rooted at `root` (needs root: frame numbers).
pub fn measure(root: u32) -> Result<TreeMemory, BenchError> {
    let mut frames = HashSet::new();
    let mut pss = 0;
    for pid in tree(root) {
        add_frames(pid, &mut frames)?;
        pss += pss_kib(pid)?;
    }
    Ok(TreeMemory {
        resident_kib: frames.len() as u64 * PAGE / 1024,
        pss_kib: pss,
    })
}
