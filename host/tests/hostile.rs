//! Hostile guests: the `hostile` test unikernel scribbles over its own ring
//! memory (channel headers, counters, element lengths, block request
//! fields, host-owned words, the ring directory) and then does I/O. For
//! every scenario and both I/O engines the tender must end within a time
//! limit, without a signal, and either keep serving the guest (status 0,
//! SURVIVED, nothing on stderr) or stop it with status 1 and one line on
//! stderr. It must never touch memory the guest may not have it touch
//! (hvt: outside guest RAM, the tender's pages, read-only segments; spt:
//! anything but the ring memory the I/O worker shares with the guest), nor
//! file blocks it was not asked to write: the tap's counters, the block file
//! and what the guest saw (response statuses, counters, its own memory)
//! show what the tender did.
//!
//! Every scenario here is answered inside the ring protocol, so the guest
//! must survive (status 1 would be the tender giving up where the protocol
//! has an answer): a malformed channel is not served, a malformed element
//! is consumed and ignored, a malformed block request is answered with
//! status 2 (`SOLO5_R_EINVAL`) without I/O. The time limit is `wait`'s:
//! a run that exceeds it is killed and fails the test.
//!
//! The same scenarios run on solo5-spt (`RINGTENDER_TEST_TARGET=spt`, the
//! unikernel built for spt), where the guest finds its rings and doorbell
//! through spt's boot info and the I/O worker process sees only the ring
//! memory: the guest's raw block requests point into its block area's data
//! slots, and a buffer anywhere else, guest RAM included, is refused with
//! status 2. Where that makes the outcome differ, a scenario names both
//! expectations ([`per_target`]).

mod common;

use std::fs;
use std::process::Stdio;

use common::{unikernel, wait, NetNs, Outcome, Target, TempDir};

/// Byte the block file is filled with before each run.
const FILL: u8 = 0x5a;
const SECTOR: usize = 512;
const FILE_SIZE: usize = 4 << 20;
/// Bytes of each frame the guest sends.
const FRAME: u64 = 60;
/// The hvt boot info's first word, `mem_size`, for `--mem=16`.
const BOOT_MEM_SIZE: [u8; 8] = (16u64 << 20).to_le_bytes();
/// spt: the start of the ring directory: version 1, three entries (one per
/// manifest entry), the first of which (the manifest's reserved entry 0)
/// has no rings (`area` 0).
const SPT_RING_DIR: [u8; 16] = [1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// Sector 7 after the guest's proof-of-life write.
const ALIVE: (usize, &[u8]) = (7, &[b'H'; SECTOR]);

/// What a scenario must leave behind.
struct Expect {
    /// Lines the guest prints (each after "hostile: ").
    lines: &'static [&'static str],
    /// Frames the tender wrote to the tap.
    frames: u64,
    /// Sectors of the block file that changed, each with its first bytes;
    /// every other sector keeps [`FILL`].
    sectors: &'static [(usize, &'static [u8])],
}

/// `hvt` or `spt`, whichever target is under test.
fn per_target(hvt: Expect, spt: Expect) -> Expect {
    match common::target() {
        Target::Hvt => hvt,
        Target::Spt => spt,
    }
}

/// What one run left.
struct Run {
    out: Outcome,
    frames: u64,
    bytes: u64,
    file: Vec<u8>,
}

/// Runs `scenario` with `engine`, a fresh tap and a block file of [`FILL`].
fn run(engine: &str, scenario: &str) -> Run {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let dir = TempDir::new();
    let image = dir.join("storage.img");
    fs::write(&image, vec![FILL; FILE_SIZE]).unwrap();
    let child = ns
        .command(common::tender())
        .args([
            engine,
            "--mem=16",
            "--net:service0=tap0",
            &format!("--block:storage={}", image.display()),
            "--",
            unikernel("hostile").to_str().unwrap(),
            scenario,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait(child);
    Run {
        out,
        frames: common::tap_stat(&ns, "tap0", "rx_packets"),
        bytes: common::tap_stat(&ns, "tap0", "rx_bytes"),
        file: fs::read(&image).unwrap(),
    }
}

/// Runs `scenario` on both engines and checks the outcome against `expect`.
fn scenario(name: &str, expect: Expect) {
    for engine in ["--engine=uring", "--engine=portable"] {
        let run = run(engine, name);
        let out = &run.out;
        let context = format!("{name} {engine}: {out:#?}");
        assert_eq!(out.signal, None, "{context}");
        assert_eq!(out.status, Some(0), "{context}");
        assert!(out.stdout.contains("\nSURVIVED\n"), "{context}");
        assert!(out.stderr.is_empty(), "{context}");
        assert!(!out.stdout.contains("CHECK FAILED"), "{context}");
        let printed: Vec<&str> = out
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("hostile: "))
            .collect();
        for line in expect.lines {
            assert!(printed.contains(line), "missing {line:?}: {context}");
        }
        assert_eq!(run.frames, expect.frames, "tap frames: {context}");
        assert_eq!(run.bytes, expect.frames * FRAME, "tap bytes: {context}");
        assert_eq!(run.file.len(), FILE_SIZE, "{context}");
        for (index, data) in run.file.chunks(SECTOR).enumerate() {
            match expect.sectors.iter().find(|(s, _)| *s == index) {
                Some((_, prefix)) => {
                    assert_eq!(&data[..prefix.len()], *prefix, "sector {index}: {context}")
                }
                None => assert!(
                    data.iter().all(|&b| b == FILL),
                    "sector {index} changed: {context}"
                ),
            }
        }
    }
}

/// A guest→host channel the host cannot accept: not served at all (no
/// frame, no block response, no file change), the guest keeps running.
/// Proof of life: once the guest publishes both channels anew with a valid
/// geometry and a new epoch, a frame reaches the tap and sector 7 is
/// written (a host that stopped serving altogether fails here).
const IGNORED: Expect = Expect {
    lines: &[
        "write sector 7: no response",
        "host took no frame: yes",
        "valid frame taken: yes",
        "write sector 7: status 0",
    ],
    frames: 1,
    sectors: &[ALIVE],
};

#[test]
fn g2h_size_too_large() {
    scenario("g2h-size", IGNORED);
}

#[test]
fn g2h_elements_beyond_region() {
    scenario("g2h-elements", IGNORED);
}

#[test]
fn g2h_wrong_protocol() {
    scenario("g2h-protocol", IGNORED);
}

#[test]
fn g2h_wrong_transport() {
    scenario("g2h-transport", IGNORED);
}

#[test]
fn g2h_epoch_zero() {
    scenario("g2h-epoch0", IGNORED);
}

/// Header fields changed without a new epoch: the host keeps the geometry
/// it copied and serves on.
#[test]
fn g2h_fields_without_new_epoch() {
    scenario(
        "g2h-same-epoch",
        Expect {
            lines: &["valid frame taken: yes", "write sector 7: status 0"],
            frames: 2,
            sectors: &[ALIVE],
        },
    );
}

/// Smaller elements in a new epoch: the net length field is found at the
/// end of each 80-byte element, and a 16-byte block request is read as 16
/// bytes (the bait in the next 16 would make a valid write).
#[test]
fn g2h_smaller_elements() {
    scenario(
        "g2h-small",
        Expect {
            lines: &[
                "host took 3 frames of 80-byte elements: yes",
                "16-byte write request: status 2",
            ],
            frames: 3,
            sectors: &[],
        },
    );
}

/// wsc and wc far ahead of anything written: the host skips to wc (as a
/// lossy SHMStream reader does after an overrun) and serves what follows.
/// The guest waits for the skip before its proof of life: a frame written
/// before the host caught up would be skipped with the rest, and whether it
/// is depends on when the worker runs.
#[test]
fn write_counter_far_ahead() {
    scenario(
        "wc-ahead",
        Expect {
            lines: &[
                "host skipped the net channel's counters: yes",
                "host skipped the block channel's counters: yes",
                "valid frame taken: yes",
                "write sector 7: status 0",
            ],
            frames: 1,
            sectors: &[ALIVE],
        },
    );
}

/// hvt's send port, which the vCPU thread serves: handles of no net
/// device are ignored, a tx channel whose counters are far ahead is drained
/// a bounded batch per exit, 10,000 exits with nothing queued send nothing,
/// and a frame sent through the port then reaches the tap (spt: the same
/// steps through the doorbell, which the worker serves later, so the guest
/// waits for the skip before it sends, as in `write_counter_far_ahead`).
#[test]
fn send_port() {
    scenario(
        "send-port",
        Expect {
            lines: &[
                "host skipped the net channel's counters: yes",
                "valid frame taken: yes",
                "write sector 7: status 0",
            ],
            frames: 1,
            sectors: &[ALIVE],
        },
    );
}

/// wsc far ahead of a valid element's wc: the element counts as
/// overwritten while the host read it (an overrun) and is dropped, not
/// retried for ever (the block device is served meanwhile); the host
/// drains and serves what follows.
#[test]
fn write_started_counter_far_ahead() {
    scenario(
        "wsc-ahead",
        Expect {
            lines: &[
                "write sector 7 while the net channel's wsc is ahead: status 0",
                "host dropped the frame: yes",
                "write sector 8 with wsc ahead: no response",
                "host dropped the frame: yes",
                "valid frame taken: yes",
                "write sector 7: status 0",
            ],
            frames: 1,
            sectors: &[ALIVE],
        },
    );
}

/// A whole ring of frames with a bad length field: none reaches the tap,
/// all are acknowledged (the guest's ring does not stay full), and the next
/// valid frame goes out.
const BAD_LENGTHS: Expect = Expect {
    lines: &[
        "host acknowledged a ring full of bad lengths: yes",
        "valid frame taken: yes",
    ],
    frames: 1,
    sectors: &[],
};

#[test]
fn net_length_zero() {
    scenario("net-len0", BAD_LENGTHS);
}

#[test]
fn net_length_65535() {
    scenario("net-len65535", BAD_LENGTHS);
}

#[test]
fn net_length_one_past_frame_max() {
    scenario("net-len-over", BAD_LENGTHS);
}

/// Buffers past the end of what the host may touch (hvt: guest RAM with
/// its ring areas; spt: the ring memory), straddling it, or wrapping
/// around: refused without I/O (the file is unchanged, and so are the last
/// 256 bytes that a partial read would have overwritten). On spt also a
/// buffer straddling the start of the ring memory (the top of guest RAM and
/// the directory).
#[test]
fn block_buffer_outside_guest_ram() {
    scenario(
        "blk-buf-past",
        per_target(
            Expect {
                lines: &[
                    "read into the last 256 bytes of RAM and beyond: status 2",
                    "last 256 bytes of RAM unchanged: yes",
                    "write from the last 256 bytes of RAM and beyond: status 2",
                    "read into the end of RAM: status 2",
                    "write from the end of RAM: status 2",
                    "read into 2^40: status 2",
                    "write from 2^40: status 2",
                    "read into 2^64 - 256: status 2",
                    "write from 2^64 - 256: status 2",
                    "write sector 7: status 0",
                ],
                frames: 0,
                sectors: &[ALIVE],
            },
            Expect {
                lines: &[
                    "read into the last 256 bytes of ring memory and beyond: status 2",
                    "last 256 bytes of ring memory unchanged: yes",
                    "write from the last 256 bytes of ring memory and beyond: status 2",
                    "read into the end of ring memory: status 2",
                    "write from the end of ring memory: status 2",
                    "read into 2^40: status 2",
                    "write from 2^40: status 2",
                    "read into 2^64 - 256: status 2",
                    "write from 2^64 - 256: status 2",
                    "read straddling the start of ring memory: status 2",
                    "ring directory unchanged: yes",
                    "write straddling the start of ring memory: status 2",
                    "write sector 7: status 0",
                ],
                frames: 0,
                sectors: &[ALIVE],
            },
        ),
    );
}

/// hvt: buffers in the tender's low pages: nothing below 1 MiB may be
/// written (GDT, TSS, IDT, trap stubs, page tables, boot info) nor read,
/// except the boot area, which the guest can read itself anyway: writing it
/// to the disk leaks nothing (sector 9 then starts with `mem_size`, 16 MiB).
///
/// spt: the I/O worker cannot see the guest's own memory at all: buffers
/// below it, in the boot info, in static data, on the stack or at the top
/// of guest RAM are refused both ways (sector 10, which the writes name,
/// keeps its bytes, and so do the guest's buffers); the ring memory, which
/// the guest can read itself, may be written out: sector 9 then starts with
/// the ring directory.
#[test]
fn block_buffer_in_tender_low_pages() {
    scenario(
        "blk-buf-low",
        per_target(
            Expect {
                lines: &[
                    "read into 0x1000 (GDT, TSS): status 2",
                    "read into 0x2000 (IDT): status 2",
                    "read into 0x3000 (trap stubs): status 2",
                    "read into 0x20000 (page tables): status 2",
                    "read into 0x10000 (boot info): status 2",
                    "boot info unchanged: yes",
                    "write from 0: status 2",
                    "write from 0x1000 (GDT, TSS): status 2",
                    "write from 0x20000 (page tables): status 2",
                    "write from 0x10000 (boot info) to sector 9: status 0",
                    "write sector 7: status 0",
                ],
                frames: 0,
                sectors: &[ALIVE, (9, &BOOT_MEM_SIZE)],
            },
            Expect {
                lines: &[
                    "read into 0x1000 (below guest memory): status 2",
                    "read into 0x11000 (boot info): status 2",
                    "boot info unchanged: yes",
                    "read into a static buffer: status 2",
                    "read into the stack: status 2",
                    "static buffer and stack unchanged: yes",
                    "read into the last page of guest RAM: status 2",
                    "write from 0: status 2",
                    "write from 0x11000 (boot info) to sector 10: status 2",
                    "write from a static buffer to sector 10: status 2",
                    "write from the stack to sector 10: status 2",
                    "write from the ring directory to sector 9: status 0",
                    "write sector 7: status 0",
                ],
                frames: 0,
                sectors: &[ALIVE, (9, &SPT_RING_DIR)],
            },
        ),
    );
}

/// A read into the guest's read-only code is refused.
#[test]
fn block_buffer_in_guest_code() {
    scenario(
        "blk-buf-text",
        Expect {
            lines: &[
                "read into the code of solo5_app_main: status 2",
                "code unchanged: yes",
                "write sector 7: status 0",
            ],
            frames: 0,
            sectors: &[ALIVE],
        },
    );
}

/// Lengths of 0, not a sector multiple, over 1 MiB, or overflowing are
/// refused; exactly 1 MiB works.
#[test]
fn block_request_lengths() {
    scenario(
        "blk-len",
        Expect {
            lines: &[
                "read of length 0: status 2",
                "read of length 511: status 2",
                "write of length 513: status 2",
                "read of length 1 MiB + 512: status 2",
                "read of length 2 MiB: status 2",
                "read of length 2^40: status 2",
                "write of length 2^64 - 512: status 2",
                "read of length 1 MiB: status 0",
                "first byte 0x5a",
                "1 MiB read all equal: yes",
                "write sector 7: status 0",
            ],
            frames: 0,
            sectors: &[ALIVE],
        },
    );
}

/// Offsets at or past the capacity, misaligned, or overflowing: refused,
/// the file unchanged.
#[test]
fn block_request_offsets() {
    scenario(
        "blk-offset",
        Expect {
            lines: &[
                "read at the capacity: status 2",
                "write at the capacity: status 2",
                "write of 1024 at the last sector: status 2",
                "write at offset 1: status 2",
                "write at offset 2^64 - 512: status 2",
                "read at offset 2^63: status 2",
                "write sector 7: status 0",
            ],
            frames: 0,
            sectors: &[ALIVE],
        },
    );
}

/// Unknown kinds with otherwise valid write fields: status 2, and sector 8
/// they point at is not written. A sync ignores its other fields.
#[test]
fn block_request_kinds() {
    scenario(
        "blk-kind",
        Expect {
            lines: &[
                "kind 0: status 2",
                "kind 3 (discard): status 2",
                "kind 5: status 2",
                "kind 65535: status 2",
                "sync with garbage fields: status 0",
                "write sector 7: status 0",
            ],
            frames: 0,
            sectors: &[ALIVE],
        },
    );
}

/// The guest's read counters of the host→guest channels far ahead: the
/// host sees full rings (POLL returns, no request is taken) and resumes
/// once the counter is put back.
#[test]
fn guest_read_counters_far_ahead() {
    scenario(
        "rx-rc-ahead",
        Expect {
            lines: &[
                "20 yields returned",
                "write sector 7 (response ring looks full): no response",
                "write sector 7 (read counter put back): status 0",
                "valid frame taken: yes",
            ],
            frames: 1,
            sectors: &[ALIVE],
        },
    );
}

/// Host-owned read counters overwritten: the host never reads them and
/// puts the true value back when it next consumes.
#[test]
fn host_read_counters_overwritten() {
    scenario(
        "host-rc",
        Expect {
            lines: &[
                "solo5_net_write: status 1",
                "valid frame taken: yes",
                "write sector 7: status 0",
                "host restored its block read counter: yes",
            ],
            frames: 1,
            sectors: &[ALIVE],
        },
    );
}

/// `host_sleeping` overwritten with nonsense and with 0, `guest_waiting`
/// (which the spt worker reads) with nonsense.
#[test]
fn host_sleeping_overwritten() {
    scenario(
        "host-sleeping",
        Expect {
            lines: &[
                "solo5_net_write: status 0",
                "write sector 7: status 0",
                "host took every queued frame: yes",
            ],
            frames: 2,
            sectors: &[ALIVE],
        },
    );
}

/// The host→guest channel headers overwritten: the host keeps writing by
/// its own geometry; only the guest's own reader is confused.
#[test]
fn host_channel_headers_overwritten() {
    scenario(
        "h2g-header",
        Expect {
            lines: &[
                "solo5_net_read: status 1",
                "valid frame taken: yes",
                "write sector 7: status 0",
            ],
            frames: 1,
            sectors: &[ALIVE],
        },
    );
}

/// spt's rx hand-over words scribbled: `rx_owner` held with nonsense,
/// the host-owned `rx_pass` and the host→guest write counters overwritten.
/// The worker waits on none of them: it serves tx and block meanwhile,
/// puts `rx_pass` back after its pass (spt), and keeps its own write
/// counter when the guest gives the ring back. hvt's host reads none of
/// these words.
#[test]
fn rx_hand_over_words_scribbled() {
    const BOTH: [&str; 3] = [
        "frame taken while rx_owner was held: yes",
        "valid frame taken: yes",
        "write sector 7: status 0",
    ];
    scenario(
        "rx-owner",
        per_target(
            Expect {
                lines: &BOTH,
                frames: 2,
                sectors: &[ALIVE],
            },
            Expect {
                lines: &[BOTH[0], BOTH[1], BOTH[2], "host cleared rx_pass: yes"],
                frames: 2,
                sectors: &[ALIVE],
            },
        ),
    );
}

/// The ring directory overwritten after start-up: the host never reads it again.
#[test]
fn ring_directory_overwritten() {
    scenario(
        "dir",
        Expect {
            lines: &["valid frame taken: yes", "write sector 7: status 0"],
            frames: 1,
            sectors: &[ALIVE],
        },
    );
}

/// One device's guest→host channel publishes a new epoch over and over
/// (each one valid and empty) while the other device has I/O waiting: the
/// worker's work on the flipping channel is bounded per round, so the
/// block write and then the frame are served while the flipping goes on,
/// and both channels published anew work afterwards.
#[test]
fn epoch_flipped_forever() {
    scenario(
        "epoch-flip",
        Expect {
            lines: &[
                "write sector 7 while the net channel's epoch flipped: status 0",
                "frame taken while the block channel's epoch flipped: yes",
                "valid frame taken: yes",
                "write sector 7: status 0",
            ],
            frames: 2,
            sectors: &[ALIVE],
        },
    );
}
