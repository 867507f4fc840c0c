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

/// Reads `path` as far as the tender uses it ([`elf::used_extent`]): a
/// buffer of the file's length whose tail (debug information, section
/// headers) stays zero. The buffer is zero-filled by the allocator, so the
/// pages of that tail are never touched: a unikernel built with debug
/// information costs neither the time nor the memory of reading it.
fn read_used(path: &str) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let len = usize::try_from(file.metadata()?.len())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::FileTooLarge))?;
    let mut buf = vec![0u8; len];
    let mut read = 0;
    loop {
        let want = match elf::used_extent(&buf, read as u64) {
            Ok(end) | Err(end) => end as usize,
        };
        if want <= read {
            return Ok(buf);
        }
        read += fill(&file, &mut buf[read..want], read as u64)?;
        if read < want {
            // The file is shorter than it was: what is missing reads as zero
            // and the parser reports what it finds.
            return Ok(buf);
        }
    }
}

/// Reads into `buf` from `offset` until it is full or the file ends;
/// returns the bytes read.
fn fill(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match std::os::unix::fs::FileExt::read_at(file, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Reads `kernel` for `tender`, keeping the ABI version its note names
/// (the muen runner accepts two).
pub fn read_unikernel(tender: Tender, kernel: &str) -> Result<Unikernel, TenderError> {
    let file = read_used(kernel).map_err(|source| TenderError::KernelOpen {
        path: kernel.to_string(),
        source,
    })?;
    let abi = elf::read_abi_note(&file).map_err(kernel_error(kernel))?;
    let (target, versions): (AbiTarget, &[u32]) = match tender {
        Tender::Hvt | Tender::HvtDebug => (AbiTarget::Hvt, &[ringtender_abi::hvt::HVT_ABI_VERSION]),
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
