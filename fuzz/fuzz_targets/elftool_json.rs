#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringtender_fuzz_entries::elftool_json::run(data));
