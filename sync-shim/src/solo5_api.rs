//! `solo5.h`, exported with C linkage: pointer and length pairs become
//! slices, results and exit statuses are upstream's.

use core::ffi::c_char;

use ringtender_abi::solo5::{BlockInfo, NetInfo, Solo5Result, SOLO5_R_EINVAL, SOLO5_R_OK};
use ringtender_guest::{api, tls};

/// # Safety
/// `name` must be a NUL-terminated string.
unsafe fn c_name<'a>(name: *const c_char) -> &'a [u8] {
    if name.is_null() {
        return &[];
    }
    // SAFETY: the caller passes a NUL-terminated string.
    unsafe { core::ffi::CStr::from_ptr(name) }.to_bytes()
}

/// Writes an acquired device's handle and info, or answers EINVAL.
///
/// # Safety
/// `handle` and `info` are writable.
unsafe fn acquired<I>(found: Option<(u64, I)>, handle: *mut u64, info: *mut I) -> Solo5Result {
    match found {
        Some((h, i)) => {
            // SAFETY: the caller passes writable out-parameters.
            unsafe {
                handle.write(h);
                info.write(i);
            }
            SOLO5_R_OK
        }
        None => SOLO5_R_EINVAL,
    }
}

/// `void solo5_exit(int status)`.
#[no_mangle]
pub extern "C" fn solo5_exit(status: i32) -> ! {
    api::exit(status)
}

/// `void solo5_abort(void)`.
#[no_mangle]
pub extern "C" fn solo5_abort() -> ! {
    api::abort()
}

/// `solo5_time_t solo5_clock_monotonic(void)`.
#[no_mangle]
pub extern "C" fn solo5_clock_monotonic() -> u64 {
    api::clock_monotonic()
}

/// `solo5_time_t solo5_clock_wall(void)`.
#[no_mangle]
pub extern "C" fn solo5_clock_wall() -> u64 {
    api::clock_wall()
}

/// `void solo5_yield(solo5_time_t deadline, solo5_handle_set_t *ready_set)`.
///
/// # Safety
/// `ready_set` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn solo5_yield(deadline: u64, ready_set: *mut u64) {
    let ready = api::yield_until(deadline);
    if !ready_set.is_null() {
        // SAFETY: the caller passes a writable handle set or null.
        unsafe { ready_set.write(ready) };
    }
}

/// `void solo5_console_write(const char *buf, size_t size)`.
///
/// # Safety
/// `buf` points to `size` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn solo5_console_write(buf: *const c_char, size: usize) {
    if buf.is_null() || size == 0 {
        return;
    }
    // SAFETY: the caller passes `size` readable bytes.
    api::console_write(unsafe { core::slice::from_raw_parts(buf as *const u8, size) });
}

/// `solo5_result_t solo5_net_acquire(const char *name, solo5_handle_t *h, struct solo5_net_info *info)`.
///
/// # Safety
/// `name` is a C string; `handle` and `info` are writable.
#[no_mangle]
pub unsafe extern "C" fn solo5_net_acquire(
    name: *const c_char,
    handle: *mut u64,
    info: *mut NetInfo,
) -> Solo5Result {
    // SAFETY: the caller passes a C string and writable out-parameters.
    unsafe {
        acquired(
            ringtender_guest::devices::net_acquire(c_name(name)),
            handle,
            info,
        )
    }
}

/// `solo5_result_t solo5_net_write(solo5_handle_t h, const uint8_t *buf, size_t size)`.
///
/// # Safety
/// `buf` points to `size` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn solo5_net_write(handle: u64, buf: *const u8, size: usize) -> Solo5Result {
    if buf.is_null() {
        return SOLO5_R_EINVAL;
    }
    // SAFETY: the caller passes `size` readable bytes.
    api::net_write(handle, unsafe { core::slice::from_raw_parts(buf, size) })
}

/// `solo5_result_t solo5_net_read(solo5_handle_t h, uint8_t *buf, size_t size, size_t *read_size)`.
///
/// # Safety
/// `buf` points to `size` writable bytes; `read_size` is writable.
#[no_mangle]
pub unsafe extern "C" fn solo5_net_read(
    handle: u64,
    buf: *mut u8,
    size: usize,
    read_size: *mut usize,
) -> Solo5Result {
    if buf.is_null() || read_size.is_null() {
        return SOLO5_R_EINVAL;
    }
    // SAFETY: the caller passes `size` writable bytes.
    let (result, len) = api::net_read(handle, unsafe {
        core::slice::from_raw_parts_mut(buf, size)
    });
    if result == SOLO5_R_OK {
        // SAFETY: the caller passes a writable size.
        unsafe { read_size.write(len) };
    }
    result
}

/// `solo5_result_t solo5_block_acquire(const char *name, solo5_handle_t *h, struct solo5_block_info *info)`.
///
/// # Safety
/// `name` is a C string; `handle` and `info` are writable.
#[no_mangle]
pub unsafe extern "C" fn solo5_block_acquire(
    name: *const c_char,
    handle: *mut u64,
    info: *mut BlockInfo,
) -> Solo5Result {
    // SAFETY: the caller passes a C string and writable out-parameters.
    unsafe {
        acquired(
            ringtender_guest::devices::block_acquire(c_name(name)),
            handle,
            info,
        )
    }
}

/// `solo5_result_t solo5_block_write(solo5_handle_t h, solo5_off_t offset, const uint8_t *buf, size_t size)`.
///
/// # Safety
/// `buf` points to `size` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn solo5_block_write(
    handle: u64,
    offset: u64,
    buf: *const u8,
    size: usize,
) -> Solo5Result {
    if buf.is_null() {
        return SOLO5_R_EINVAL;
    }
    // SAFETY: the caller passes `size` readable bytes.
    api::block_write(handle, offset, unsafe {
        core::slice::from_raw_parts(buf, size)
    })
}

/// `solo5_result_t solo5_block_read(solo5_handle_t h, solo5_off_t offset, uint8_t *buf, size_t size)`.
///
/// # Safety
/// `buf` points to `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn solo5_block_read(
    handle: u64,
    offset: u64,
    buf: *mut u8,
    size: usize,
) -> Solo5Result {
    if buf.is_null() {
        return SOLO5_R_EINVAL;
    }
    // SAFETY: the caller passes `size` writable bytes.
    api::block_read(handle, offset, unsafe {
        core::slice::from_raw_parts_mut(buf, size)
    })
}

/// `size_t solo5_tls_size(void)`.
#[no_mangle]
pub extern "C" fn solo5_tls_size() -> usize {
    tls::size()
}

/// `uintptr_t solo5_tls_tp_offset(uintptr_t tls)`.
#[no_mangle]
pub extern "C" fn solo5_tls_tp_offset(tls_block: usize) -> usize {
    tls::tp_offset(tls_block)
}

/// `solo5_result_t solo5_tls_init(uintptr_t tls)`.
///
/// # Safety
/// `tls_block` points to `solo5_tls_size()` zeroed writable bytes.
#[no_mangle]
pub unsafe extern "C" fn solo5_tls_init(tls_block: usize) -> Solo5Result {
    if tls_block == 0 {
        return SOLO5_R_EINVAL;
    }
    // SAFETY: the caller's contract.
    unsafe { tls::init(tls_block) };
    SOLO5_R_OK
}

/// `solo5_result_t solo5_set_tls_base(uintptr_t base)`.
#[no_mangle]
pub extern "C" fn solo5_set_tls_base(base: usize) -> Solo5Result {
    tls::set_base(base as u64);
    SOLO5_R_OK
}
