//! Reading the unikernel file: the whole file, its ABI1 note checked
//! against the tender's target and ABI version, and its manifest, with
//! upstream's messages.

use ringtender_abi::elf_note::AbiTarget;

use crate::cli::Tender;
use crate::elf;
use crate::error::TenderError;
use crate::manifest::Manifest;

/// An ELF error about `kernel`, as the tender reports it.
pub fn kernel_error(kernel: &str) -> impl Fn(elf::ElfError) -> TenderError + '_ {
    move |e| TenderError::Kernel(format!("{kernel}: {e}"))
}

/// Reads `kernel` for `tender`: its bytes and its validated manifest.
pub fn read(tender: Tender, kernel: &str) -> Result<(Vec<u8>, Manifest), TenderError> {
    let file = std::fs::read(kernel).map_err(|_| TenderError::KernelOpen {
        path: kernel.to_string(),
    })?;
    let abi = elf::read_abi_note(&file).map_err(kernel_error(kernel))?;
    let (target, version) = match tender {
        Tender::Hvt => (AbiTarget::Hvt, ringtender_abi::hvt::HVT_ABI_VERSION),
        Tender::Spt => (AbiTarget::Spt, ringtender_abi::spt::SPT_ABI_VERSION),
    };
    if abi.abi_target != target as u32 {
        return Err(TenderError::Kernel(format!(
            "{kernel}: Executable is not for the {} target",
            tender.name()
        )));
    }
    if abi.abi_version != version {
        return Err(TenderError::Kernel(format!(
            "{kernel}: Executable requests unsupported ABI version {}",
            abi.abi_version
        )));
    }
    let manifest = elf::read_manifest(&file).map_err(kernel_error(kernel))?;
    Ok((file, manifest))
}
