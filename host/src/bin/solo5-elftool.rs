//! `solo5-elftool`: generate and query Solo5 application manifests.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(ringtender_host::elftool::main(&args));
}
