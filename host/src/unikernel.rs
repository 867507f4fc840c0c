//! Reading the unikernel file: the whole file, its ABI1 note checked
//! against the tender's target and ABI version(s), and its manifest, with
//! upstream's messages.

use ringtender_abi::elf_note::AbiTarget;
use ringtender_muen_compat::subject::{MUEN_ABI_VERSION, MUEN_ABI_VERSION_SINFO_04};

use crate::cli::Tender;
use crate::elf;
use crate::error::TenderError;
use crate::manifest::Manifest;

/// An ELF error about `kernel`, as the tender reports it.
pub fn kernel_error(kernel: &str) -> impl Fn(elf::ElfError) -> TenderError + '_ {
    move |e| TenderError::Kernel(format!("{kernel}: {e}"))
}

/// A unikernel file as read: its bytes, its validated manifest and the ABI
/// version its note asks for (one of the tender's).
pub struct Unikernel {
    /// The whole file.
    pub file: Vec<u8>,
    /// Its manifest.
    pub manifest: Manifest,
    /// `abi_version` of its ABI1 note.
    pub abi_version: u32,
}

/// Reads `kernel` for `tender`: its bytes and its validated manifest.
pub fn read(tender: Tender, kernel: &str) -> Result<(Vec<u8>, Manifest), TenderError> {
    read_unikernel(tender, kernel).map(|u| (u.file, u.manifest))
}

/// Reads `kernel` for `tender`, keeping the ABI version its note names
/// (the muen runner accepts two).
pub fn read_unikernel(tender: Tender, kernel: &str) -> Result<Unikernel, TenderError> {
    let file = std::fs::read(kernel).map_err(|_| TenderError::KernelOpen {
        path: kernel.to_string(),
    })?;
    let abi = elf::read_abi_note(&file).map_err(kernel_error(kernel))?;
    let (target, versions): (AbiTarget, &[u32]) = match tender {
        Tender::Hvt => (AbiTarget::Hvt, &[ringtender_abi::hvt::HVT_ABI_VERSION]),
        Tender::Spt => (AbiTarget::Spt, &[ringtender_abi::spt::SPT_ABI_VERSION]),
        Tender::Muen | Tender::MuenPeer => (
            AbiTarget::Muen,
            &[MUEN_ABI_VERSION, MUEN_ABI_VERSION_SINFO_04],
        ),
    };
    if abi.abi_target != target as u32 {
        return Err(TenderError::Kernel(format!(
            "{kernel}: Executable is not for the {} target",
            tender.name()
        )));
    }
    if !versions.contains(&abi.abi_version) {
        return Err(TenderError::Kernel(format!(
            "{kernel}: Executable requests unsupported ABI version {}",
            abi.abi_version
        )));
    }
    let manifest = elf::read_manifest(&file).map_err(kernel_error(kernel))?;
    Ok(Unikernel {
        file,
        manifest,
        abi_version: abi.abi_version,
    })
}
