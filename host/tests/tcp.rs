//! The smoltcp unikernel (`tests/unikernels/rust/rust-tcp`) on a tap in a
//! namespace, driven by real Linux clients: ping answered, an HTTP GET of
//! a generated object with curl (checked byte for byte), a TCP transfer
//! into its sink (the byte count it prints checked), then `GET /exit` and
//! status 0. Once per way of moving frames: the ring API, the classic API
//! over the rings (the sync shim), and the classic API on hypercalls
//! (`--classic`).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use common::{
    start_in_ns, unikernel, wait, wait_for_text, worker_switches, NetNs, Target, TempDir,
    HANG_GUARD,
};

const GUEST: &str = "10.0.0.2";
/// Bytes of the object fetched: many segments, not a multiple of the
/// pattern's period or of a segment.
const OBJECT_BYTES: usize = 1_000_003;
/// Bytes sent into the sink.
const SINK_BYTES: usize = 3 << 20;

/// Byte `i` of every `/obj/N` object.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

fn curl(ns: &NetNs, path: &str, out: &std::path::Path) {
    let status = ns
        .command("curl")
        .args([
            "-s",
            "-S",
            "-f",
            "-m",
            &HANG_GUARD.as_secs().to_string(),
            "-o",
        ])
        .arg(out)
        .arg(format!("http://{GUEST}{path}"))
        .status()
        .expect("curl (apt-get install curl)");
    assert!(status.success(), "curl {path}: {status}");
}

fn serves_ping_http_and_sink(tender_args: &[&str], api: &str) {
    let ns = NetNs::new();
    ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
    let dir = TempDir::new();
    let kernel = unikernel("rust_tcp");
    let mut args = vec!["--mem=32", "--net:service0=tap0"];
    args.extend_from_slice(tender_args);
    args.extend(["--", kernel.to_str().unwrap(), api]);
    let (child, log) = start_in_ns(&ns, &args, &dir, "Ready");

    assert_eq!(ns.ping(GUEST, 5), 5, "pings answered");

    let object = dir.join("object");
    curl(&ns, &format!("/obj/{OBJECT_BYTES}"), &object);
    let got = std::fs::read(&object).unwrap();
    assert_eq!(got.len(), OBJECT_BYTES, "object length");
    if let Some(i) = (0..OBJECT_BYTES).find(|&i| got[i] != pattern(i)) {
        panic!("object byte {i} is {}, not {}", got[i], pattern(i));
    }

    ns.on_thread(|| {
        let mut stream = TcpStream::connect((GUEST, 5001)).expect("connect to the sink");
        let chunk: Vec<u8> = (0..65536).map(pattern).collect();
        let mut left = SINK_BYTES;
        while left > 0 {
            let n = left.min(chunk.len());
            stream.write_all(&chunk[..n]).expect("send into the sink");
            left -= n;
        }
        stream.shutdown(Shutdown::Write).unwrap();
        // The sink closes its side once it saw ours: nothing else comes.
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).expect("the sink's close");
        assert!(rest.is_empty(), "the sink sent {} bytes", rest.len());
    })
    .join()
    .unwrap();
    wait_for_text(&log, &format!("sink: {SINK_BYTES} bytes"));

    curl(&ns, "/exit", &dir.join("exit"));
    let mut outcome = wait(child);
    outcome.stdout = std::fs::read_to_string(&log).unwrap();
    outcome.assert_success();
}

#[test]
fn ring_api() {
    serves_ping_http_and_sink(&[], "ring");
}

#[test]
fn classic_api_over_the_rings() {
    serves_ping_http_and_sink(&[], "classic");
}

#[test]
fn classic_api_on_hypercalls() {
    serves_ping_http_and_sink(&["--classic"], "classic");
}

/// spt: HTTP requests, a connection each, to a guest that sleeps in
/// `solo5_yield` between them leave the ring worker asleep: the guest reads
/// its taps itself, answers straight to the tap, and keeps the taps while
/// the connection's frames come one by one. Before, it spun in
/// `solo5_yield` after each answer with the taps handed back, and the
/// client's next frame woke the worker on another CPU, once or more per
/// request (`docs/performance.md`, "TCP workloads"). A count, not a time:
/// a loaded machine only makes the spin catch more frames itself.
fn http_requests_leave_the_worker_asleep(api: &str) {
    const WARM_UP: usize = 3;
    const REQUESTS: usize = 30;
    if common::target() != Target::Spt {
        eprintln!("skipped: the guest serves its taps on spt only");
        return;
    }
    let ns = NetNs::new();
    ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
    let dir = TempDir::new();
    let kernel = unikernel("rust_tcp");
    let args = [
        "--mem=32",
        "--net:service0=tap0",
        "--",
        kernel.to_str().unwrap(),
        api,
    ];
    let (child, log) = start_in_ns(&ns, &args, &dir, "Ready");
    let page = dir.join("page");
    for _ in 0..WARM_UP {
        curl(&ns, "/", &page);
    }
    let before = worker_switches(child.id());
    for _ in 0..REQUESTS {
        // Time for the guest to go back to sleep.
        std::thread::sleep(std::time::Duration::from_millis(20));
        curl(&ns, "/", &page);
    }
    let after = worker_switches(child.id());
    curl(&ns, "/exit", &dir.join("exit"));
    let mut outcome = wait(child);
    outcome.stdout = std::fs::read_to_string(&log).unwrap();
    outcome.assert_success();
    let woken = after.unwrap() - before.unwrap();
    assert!(
        woken < (REQUESTS / 2) as u64,
        "the ring worker woke {woken} times for {REQUESTS} requests"
    );
}

#[test]
fn http_requests_leave_the_worker_asleep_ring_api() {
    http_requests_leave_the_worker_asleep("ring");
}

#[test]
fn http_requests_leave_the_worker_asleep_classic_api_over_the_rings() {
    http_requests_leave_the_worker_asleep("classic");
}
