//! Muen's time for the subject: the `time_info` page (µs since 1970 at TSC
//! 0, the TSC rate) written once, and a thread that plays the scheduler by
//! rewriting the scheduling info page (start and end of the current minor
//! frame, in guest TSC ticks) every [`FRAME`]. Solo5's muen clock advances
//! only when `tsc_schedule_start` changes, so the frame is its granularity.
//!
//! The ticks are the guest's TSC: the host's `rdtsc` plus the offset KVM
//! gives the vCPU, measured once through the guest's IA32_TSC MSR.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvm_bindings::{kvm_msr_entry, Msrs};
use kvm_ioctls::VcpuFd;
use ringtender_muen_compat::subject::{SchedulingInfo, TimeInfo, SOLO5_MIN_TICK_RATE_HZ};

use super::Error;
use crate::error::TenderError;
use crate::guest_memory::GuestRam;

/// Length of a minor frame: how often the scheduling info changes.
pub const FRAME: Duration = Duration::from_millis(1);
const MSR_IA32_TSC: u32 = 0x10;

fn host_tsc() -> u64 {
    // SAFETY: rdtsc only reads the time-stamp counter; every x86_64 CPU
    // has it and the kernel lets user space use it.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The guest's TSC, from the host's.
#[derive(Clone, Copy, Debug)]
pub struct GuestTsc {
    /// Guest TSC minus host TSC.
    offset: u64,
    /// Ticks per second.
    hz: u64,
}

impl GuestTsc {
    /// Measures the offset of `vcpu`'s TSC; `hz` is its rate
    /// (KVM_GET_TSC_KHZ), which Solo5's muen clock needs above 1 GHz.
    pub fn measure(vcpu: &VcpuFd, hz: u64) -> Result<Self, TenderError> {
        if hz < SOLO5_MIN_TICK_RATE_HZ {
            return Err(Error::TscTooSlow { hz }.into());
        }
        let mut msrs = Msrs::from_entries(&[kvm_msr_entry {
            index: MSR_IA32_TSC,
            ..Default::default()
        }])
        .map_err(Error::MsrList)?;
        let before = host_tsc();
        let read = vcpu
            .get_msrs(&mut msrs)
            .map_err(|source| TenderError::Kvm {
                what: "KVM_GET_MSRS",
                source,
            })?;
        let after = host_tsc();
        if read != 1 {
            return Err(Error::GuestTscUnreadable.into());
        }
        let guest = msrs.as_slice()[0].data;
        let host = before + (after - before) / 2;
        Ok(Self {
            offset: guest.wrapping_sub(host),
            hz,
        })
    }

    /// The guest's TSC now.
    pub fn now(&self) -> u64 {
        host_tsc().wrapping_add(self.offset)
    }

    /// The `time_info` page's content now: µs since 1970 at TSC 0.
    pub fn time_info(&self) -> TimeInfo {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as u64;
        let tsc_us = (u128::from(self.now()) * 1_000_000 / u128::from(self.hz)) as u64;
        TimeInfo {
            tsc_time_base: since_epoch.saturating_sub(tsc_us).max(1),
            tsc_tick_rate_hz: self.hz,
            timezone_microsecs: 0,
        }
    }

    /// The scheduling info of a frame starting now.
    pub fn frame(&self) -> SchedulingInfo {
        let start = self.now().max(1);
        SchedulingInfo {
            tsc_schedule_start: start,
            tsc_schedule_end: start + self.hz / 1000,
        }
    }
}

/// Writes `info` at `gpa` word by word, `end` first, so a reader that sees
/// the new start also sees the new end.
fn publish(ram: &GuestRam, gpa: u64, info: SchedulingInfo) {
    let end = gpa + std::mem::offset_of!(SchedulingInfo, tsc_schedule_end) as u64;
    let start = gpa + std::mem::offset_of!(SchedulingInfo, tsc_schedule_start) as u64;
    // The runner placed the page inside guest RAM: these stores cannot fail.
    let _ = ram.store_u64(end, info.tsc_schedule_end, Ordering::Release);
    let _ = ram.store_u64(start, info.tsc_schedule_start, Ordering::Release);
}

/// Writes `time_info` and the first frame, before the subject runs.
pub fn init_pages(
    ram: &GuestRam,
    tsc: &GuestTsc,
    time_info_gpa: u64,
    scheduling_info_gpa: u64,
) -> Result<(), TenderError> {
    ram.setup_write(time_info_gpa, bytemuck::bytes_of(&tsc.time_info()))?;
    publish(ram, scheduling_info_gpa, tsc.frame());
    Ok(())
}

/// The thread that starts a new frame every [`FRAME`].
pub struct Scheduler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Scheduler {
    /// Starts the thread writing the scheduling info page at `gpa`.
    pub fn start(ram: Arc<GuestRam>, tsc: GuestTsc, gpa: u64) -> Result<Self, TenderError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = crate::worker_thread::spawn(
            "muen-scheduler",
            crate::muen::seccomp::scheduler_filter()?,
            move || {
                while !flag.load(Ordering::Relaxed) {
                    publish(&ram, gpa, tsc.frame());
                    std::thread::sleep(FRAME);
                }
                Ok(())
            },
        )?;
        Ok(Self { stop, thread })
    }

    /// Stops the thread.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
