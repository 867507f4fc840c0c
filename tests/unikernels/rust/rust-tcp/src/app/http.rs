//! The HTTP/1.0 server on port 80: `GET /` a small page, `GET /obj/N` N
//! bytes of a pattern (byte `i` is `i % 251`), `GET /exit` a last page, then the unikernel ends.
//! Each response says `HTTP/1.0` and its length; the client closes the
//! connection once it has it (curl, wrk), and the server closes its side
//! then, so no socket waits in TIME-WAIT here. A second request on the same
//! connection is served too.

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;

use crate::app::print::BufWriter;

/// Connections served at once (wrk -c4 and a few closing).
pub const SOCKETS: usize = 8;
const PORT: u16 = 80;
const TX_BYTES: usize = 128 << 10;
const RX_BYTES: usize = 2048;
const REQUEST_MAX: usize = 1024;
const HEADER_MAX: usize = 160;
/// The pattern's period: a prime, so it never lines up with segments.
const PERIOD: usize = 251;
/// Largest object served (64 GiB).
const OBJECT_MAX: u64 = 64 << 30;

const PAGE: &[u8] = b"<html><body>rust-tcp: smoltcp on ringtender</body></html>\n";
const NOT_FOUND: &[u8] = b"not found\n";
const BYE: &[u8] = b"bye\n";

static mut TX: [[u8; TX_BYTES]; SOCKETS] = [[0; TX_BYTES]; SOCKETS];
static mut RX: [[u8; RX_BYTES]; SOCKETS] = [[0; RX_BYTES]; SOCKETS];

/// What a response's body is.
#[derive(Clone, Copy)]
enum Body {
    Bytes(&'static [u8]),
    Pattern,
}

/// One connection's progress.
enum Phase {
    /// Gathering a request's head (`len` bytes so far).
    Reading { len: usize },
    /// Sending the response: `sent` bytes of head and body so far.
    Sending {
        head_len: usize,
        body: Body,
        body_len: u64,
        sent: u64,
    },
}

struct Connection {
    handle: SocketHandle,
    phase: Phase,
    request: [u8; REQUEST_MAX],
    head: [u8; HEADER_MAX],
}

/// The server's sockets.
pub struct Server {
    connections: [Connection; SOCKETS],
    exit: bool,
}

fn number(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 {
        return None;
    }
    text.iter().try_fold(0u64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0'))
    })
}

/// The status, body and its length for request line `line`, and whether
/// it asks the unikernel to end.
fn route(line: &[u8]) -> (&'static str, Body, u64, bool) {
    let mut words = line.split(|&b| b == b' ');
    let (method, path) = (words.next(), words.next().unwrap_or_default());
    let bytes = |status, b: &'static [u8], exit| (status, Body::Bytes(b), b.len() as u64, exit);
    if method != Some(b"GET".as_slice()) {
        return bytes("405 Method Not Allowed", NOT_FOUND, false);
    }
    match path {
        b"/" => bytes("200 OK", PAGE, false),
        b"/exit" => bytes("200 OK", BYE, true),
        _ => match path.strip_prefix(b"/obj/").and_then(number) {
            Some(n) if n <= OBJECT_MAX => ("200 OK", Body::Pattern, n, false),
            _ => bytes("404 Not Found", NOT_FOUND, false),
        },
    }
}

/// Fills `buf` with the objects' pattern (byte `i` is `i % 251`) from
/// object offset `offset`.
fn fill_pattern(buf: &mut [u8], offset: u64) {
    let mut phase = (offset % PERIOD as u64) as usize;
    for b in buf {
        *b = phase as u8;
        phase += 1;
        if phase == PERIOD {
            phase = 0;
        }
    }
}

impl Server {
    /// Adds the server's sockets to `sockets`, listening.
    pub fn new(sockets: &mut SocketSet<'static>) -> Self {
        // SAFETY: the only users of the buffers, made once, single-threaded.
        let (tx, rx) = unsafe {
            (
                &mut *core::ptr::addr_of_mut!(TX),
                &mut *core::ptr::addr_of_mut!(RX),
            )
        };
        let mut buffers = tx.iter_mut().zip(rx.iter_mut());
        let connections = core::array::from_fn(|_| {
            let (tx, rx) = buffers.next().expect("one buffer pair per socket");
            let mut socket = tcp::Socket::new(
                tcp::SocketBuffer::new(&mut rx[..]),
                tcp::SocketBuffer::new(&mut tx[..]),
            );
            socket.set_nagle_enabled(false);
            // ACK at once: a delayed ACK stalls the peer's window.
            socket.set_ack_delay(None);
            Connection {
                handle: sockets.add(socket),
                phase: Phase::Reading { len: 0 },
                request: [0; REQUEST_MAX],
                head: [0; HEADER_MAX],
            }
        });
        Self {
            connections,
            exit: false,
        }
    }

    /// Whether a `GET /exit` was answered.
    pub fn exit_requested(&self) -> bool {
        self.exit
    }

    /// Whether no response is being sent or waits in a socket.
    pub fn idle(&self, sockets: &SocketSet<'static>) -> bool {
        self.connections.iter().all(|c| {
            matches!(c.phase, Phase::Reading { .. })
                && sockets.get::<tcp::Socket>(c.handle).send_queue() == 0
        })
    }

    /// Moves every connection on; whether any queued data to send.
    pub fn serve(&mut self, sockets: &mut SocketSet<'static>) -> bool {
        let mut sent = false;
        for c in &mut self.connections {
            let socket = sockets.get_mut::<tcp::Socket>(c.handle);
            if !socket.is_open() {
                c.phase = Phase::Reading { len: 0 };
                // Only fails on an open socket.
                let _ = socket.listen(PORT);
                continue;
            }
            if let Phase::Reading { len } = c.phase {
                if socket.state() == tcp::State::CloseWait {
                    // The client closed: close our side (LAST-ACK, not
                    // TIME-WAIT, so the socket is free again at once).
                    socket.close();
                    continue;
                }
                self.exit |= c.read(socket, len);
            }
            sent |= c.send(socket);
        }
        sent
    }
}

impl Connection {
    /// Gathers the request's head; once it is whole, starts the response.
    /// Whether the response ends the unikernel.
    fn read(&mut self, socket: &mut tcp::Socket, mut len: usize) -> bool {
        while len < REQUEST_MAX && socket.can_recv() {
            len += socket.recv_slice(&mut self.request[len..]).unwrap_or(0);
        }
        let request = &self.request[..len];
        let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
            self.phase = Phase::Reading { len };
            if len == REQUEST_MAX {
                socket.abort();
            }
            return false;
        };
        let line_end = request.iter().position(|&b| b == b'\r').unwrap_or(end);
        let (status, body, body_len, exit) = route(&request[..line_end]);
        let mut head = BufWriter::new(&mut self.head);
        let _ = core::fmt::Write::write_fmt(
            &mut head,
            format_args!(
                "HTTP/1.0 {status}\r\nServer: rust-tcp\r\nContent-Length: {body_len}\r\n\r\n"
            ),
        );
        let head_len = head.len();
        // Whatever followed the head (a pipelined request) is dropped.
        self.phase = Phase::Sending {
            head_len,
            body,
            body_len,
            sent: 0,
        };
        exit
    }

    /// Queues as much of the response as the socket takes; whether any.
    fn send(&mut self, socket: &mut tcp::Socket) -> bool {
        let Phase::Sending {
            head_len,
            body,
            body_len,
            ref mut sent,
        } = self.phase
        else {
            return false;
        };
        let head = &self.head[..head_len];
        let total = head_len as u64 + body_len;
        let before = *sent;
        while *sent < total && socket.can_send() {
            let at = *sent;
            let n = socket
                .send(|buf| {
                    let n = (total - at).min(buf.len() as u64) as usize;
                    let buf = &mut buf[..n];
                    let head_from = (at as usize).min(head.len());
                    let head_part = (head.len() - head_from).min(n);
                    buf[..head_part].copy_from_slice(&head[head_from..head_from + head_part]);
                    let offset = (at + head_part as u64).saturating_sub(head.len() as u64);
                    let rest = &mut buf[head_part..];
                    match body {
                        Body::Bytes(b) => {
                            let from = offset as usize;
                            rest.copy_from_slice(&b[from..from + rest.len()]);
                        }
                        Body::Pattern => fill_pattern(rest, offset),
                    }
                    (n, n)
                })
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            *sent += n as u64;
        }
        let progress = *sent != before;
        if *sent == total {
            self.phase = Phase::Reading { len: 0 };
        }
        progress
    }
}
