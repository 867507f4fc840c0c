//! `solo5-muen-runner`: run a Solo5 muen unikernel as a Muen subject on KVM.

fn main() {
    let status = ringtender_host::muen::main(std::env::args().collect());
    std::process::exit(status);
}
