//! Types and constants shared by the ringtender tenders and guest bindings.
//!
//! Everything here mirrors the Solo5 ABI (public API types, the hvt hypercall
//! interface, the application manifest, the ELF notes and the spt boot ABI),
//! plus the few additions of our own (the ring-3 capability note and the trap
//! port). Every struct is `#[repr(C)]`, `Pod`, and has its size and field
//! offsets asserted at compile time against the upstream layout.
#![no_std]

pub mod elf_note;
pub mod hvt;
pub mod hvt_ring;
pub mod mft;
pub mod rings;
pub mod solo5;
pub mod spt;

/// Compile-time layout check: `assert_layout!(Type, size, field => offset, ...)`.
#[macro_export]
macro_rules! assert_layout {
    ($ty:ty, $size:expr $(, $field:ident => $off:expr)* $(,)?) => {
        const _: () = assert!(core::mem::size_of::<$ty>() == $size);
        $(const _: () = assert!(core::mem::offset_of!($ty, $field) == $off);)*
    };
}
