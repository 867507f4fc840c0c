//! The muen runner's start-up probe of what the host's KVM does with a
//! guest `vmcall` (`host/src/muen/vmcall_probe.rs`), on this host's real
//! KVM: this development machine's KVM (PVM, `docs/host-notes.md`) parks
//! the vCPU on it; a stock KVM completes it in the kernel with RAX −1000.
//! The handling each result gets is unit-tested beside the probe.

use std::path::Path;

use ringtender_host::muen::vmcall_probe::{probe, VmcallBehaviour};

#[test]
fn the_probe_finds_what_this_hosts_kvm_does_with_vmcall() {
    let behaviour = probe().expect("the probe runs");
    let expected = if Path::new("/sys/module/kvm_pvm").exists() {
        VmcallBehaviour::Parks
    } else {
        VmcallBehaviour::CompletesInKernel {
            rax: -1000i64 as u64,
        }
    };
    assert_eq!(behaviour, expected);
}
