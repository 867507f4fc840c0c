//! `solo5-hvt-debug`: `solo5-hvt` with a GDB stub and core dumps.

fn main() {
    let status = ringtender_host::hvt::debug::main(std::env::args().collect());
    std::process::exit(status);
}
