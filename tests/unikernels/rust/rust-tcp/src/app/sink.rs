//! The TCP sink on port 5001, the server's part of an iperf 2 test:
//! accepts, discards what arrives, and prints `sink: N bytes` when the
//! client closes.

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;

use crate::app::print::println;

/// Connections sunk at once (`iperf -P`).
pub const SOCKETS: usize = 4;
const PORT: u16 = 5001;
/// The receive window's buffer (window scaling lets all of it be offered).
const RX_BYTES: usize = 256 << 10;
const TX_BYTES: usize = 1024;

static mut RX: [[u8; RX_BYTES]; SOCKETS] = [[0; RX_BYTES]; SOCKETS];
static mut TX: [[u8; TX_BYTES]; SOCKETS] = [[0; TX_BYTES]; SOCKETS];

struct Connection {
    handle: SocketHandle,
    received: u64,
}

/// The sink's sockets.
pub struct Sink {
    connections: [Connection; SOCKETS],
}

impl Sink {
    /// Adds the sink's sockets to `sockets`, listening.
    pub fn new(sockets: &mut SocketSet<'static>) -> Self {
        // SAFETY: the only users of the buffers, made once, single-threaded.
        let (rx, tx) = unsafe {
            (
                &mut *core::ptr::addr_of_mut!(RX),
                &mut *core::ptr::addr_of_mut!(TX),
            )
        };
        let mut buffers = rx.iter_mut().zip(tx.iter_mut());
        let connections = core::array::from_fn(|_| {
            let (rx, tx) = buffers.next().expect("one buffer pair per socket");
            let mut socket = tcp::Socket::new(
                tcp::SocketBuffer::new(&mut rx[..]),
                tcp::SocketBuffer::new(&mut tx[..]),
            );
            // ACK at once: a delayed ACK stalls the peer's window.
            socket.set_ack_delay(None);
            Connection {
                handle: sockets.add(socket),
                received: 0,
            }
        });
        Self { connections }
    }

    /// Takes in what arrived, closes what the clients closed.
    pub fn serve(&mut self, sockets: &mut SocketSet<'static>) {
        for c in &mut self.connections {
            let socket = sockets.get_mut::<tcp::Socket>(c.handle);
            if !socket.is_open() {
                // Only fails on an open socket.
                let _ = socket.listen(PORT);
                continue;
            }
            while socket.can_recv() {
                let n = socket.recv(|buf| (buf.len(), buf.len())).unwrap_or(0);
                if n == 0 {
                    break;
                }
                c.received += n as u64;
            }
            if socket.state() == tcp::State::CloseWait {
                println!("sink: {} bytes", c.received);
                socket.close();
                c.received = 0;
            }
        }
    }
}
