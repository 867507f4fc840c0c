//! What machine the figures come from.

use std::fs;

/// The machine, as the report describes it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Kernel release.
    pub kernel: String,
    /// What provides /dev/kvm.
    pub kvm: String,
}

impl Machine {
    /// Reads it off /proc and /sys.
    pub fn describe() -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let module = |m: &str| fs::metadata(format!("/sys/module/{m}")).is_ok();
        let kvm = if module("kvm_pvm") {
            "PVM (kvm_pvm): guest ring 0 emulated, ring 3 native".into()
        } else if module("kvm_intel") {
            "KVM on VT-x (kvm_intel)".into()
        } else if module("kvm_amd") {
            "KVM on AMD-V (kvm_amd)".into()
        } else {
            "unknown".into()
        };
        Self {
            cpu,
            cpus,
            kernel,
            kvm,
        }
    }
}
