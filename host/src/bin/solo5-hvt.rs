//! `solo5-hvt`: run a Solo5 hvt unikernel on KVM.

fn main() {
    let status = ringtender_host::hvt::tender::main(std::env::args().collect());
    std::process::exit(status);
}
