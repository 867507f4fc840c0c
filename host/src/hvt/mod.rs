//! `solo5-hvt`: the KVM tender. It builds the guest's address space, page
//! tables and vCPU state, serves the classic hypercalls and upstream's #637
//! net ring, and runs the shared rings' worker beside the vCPU.

pub mod cpu;
pub mod debug;
pub mod dumpcore;
pub mod error;
pub mod hypercall;
pub mod kvm;
pub mod page_tables;
pub mod seccomp;
pub mod tender;
pub mod upstream_ring;

pub use error::Error;
