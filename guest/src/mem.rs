//! The guest's memory map: image symbols from the linker script, and the heap.

use crate::log;

extern "C" {
    static _stext: u8;
    static _etext: u8;
    static _erodata: u8;
    static _end: u8;
}

/// The heap stays at least this large (upstream's rule).
const MIN_HEAP: u64 = 0x8_0000;
const PAGE: u64 = 0x1000;

fn addr(symbol: &u8) -> u64 {
    symbol as *const u8 as u64
}

/// Start and size of the heap, with the initial stack at its top.
pub fn heap(mem_size: u64) -> Option<(u64, u64)> {
    // SAFETY: linker-script symbols; only their addresses are taken.
    let end = unsafe { addr(&_end) };
    let start = end.next_multiple_of(PAGE);
    (start + MIN_HEAP <= mem_size).then_some((start, mem_size - start))
}

/// Logs the memory map at INFO level, as upstream's bindings do.
pub fn log_map(mem_size: u64, heap_start: u64) {
    // SAFETY: linker-script symbols; only their addresses are taken.
    let (stext, etext, erodata, end) =
        unsafe { (addr(&_stext), addr(&_etext), addr(&_erodata), addr(&_end)) };
    log!(
        Info,
        "Solo5: Memory map: {} MB addressable:\n",
        mem_size >> 20
    );
    log!(Info, "Solo5:   reserved @ (0x0 - 0x{:x})\n", stext - 1);
    log!(
        Info,
        "Solo5:       text @ (0x{:x} - 0x{:x})\n",
        stext,
        etext - 1
    );
    log!(
        Info,
        "Solo5:     rodata @ (0x{:x} - 0x{:x})\n",
        etext,
        erodata - 1
    );
    log!(
        Info,
        "Solo5:       data @ (0x{:x} - 0x{:x})\n",
        erodata,
        end - 1
    );
    log!(
        Info,
        "Solo5:       heap >= 0x{:x} < stack < 0x{:x}\n",
        heap_start,
        mem_size
    );
}
