//! `solo5-spt`: run a Solo5 spt unikernel as a seccomp-confined process.

fn main() {
    let status = ringtender_host::spt::main(std::env::args().collect());
    std::process::exit(status);
}
