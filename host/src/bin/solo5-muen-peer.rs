//! `solo5-muen-peer`: serve a Solo5 muen subject's net and block channels,
//! mapped from files, as the peer subjects of a Muen system would.

fn main() {
    let status = ringtender_host::muen::standalone_peer::main(std::env::args().collect());
    std::process::exit(status);
}
