//! Muen net element format: `data[frame_max]` followed by the frame length
//! as a little-endian `u16`, packed (no padding). With `frame_max = 1514`
//! (MTU 1500 plus the Ethernet header) the element is Muen's 1516 bytes.

use core::fmt;

/// Largest Ethernet frame of Muen net (MTU 1500 + 14-byte header).
pub const MUEN_FRAME_MAX: usize = ringtender_abi::rings::net_frame_max(1500) as usize;

/// Bytes of the trailing length field.
pub const LENGTH_FIELD: usize = ringtender_abi::rings::NET_LENGTH_FIELD as usize;

/// Muen's net element: [`MUEN_FRAME_MAX`] bytes of frame, then the length
/// (1516 bytes; `struct net_msg` of Solo5's muen bindings).
pub const MUEN_NET_ELEMENT_SIZE: usize = net_element_size(MUEN_FRAME_MAX);

/// Size of a Muen net channel region when the policy gives none (Muen
/// tools' default `--channel-size`): 691 elements of
/// [`MUEN_NET_ELEMENT_SIZE`] after the 64-byte header.
pub const MUEN_NET_CHANNEL_DEFAULT_SIZE: usize = 0x10_0000;

const _: () = {
    assert!(MUEN_NET_ELEMENT_SIZE == 1516);
    assert!(MUEN_NET_ELEMENT_SIZE as u64 == ringtender_abi::rings::net_element_size(1500));
    assert!(net_length_offset(MUEN_NET_ELEMENT_SIZE).unwrap() == 1514);
    assert!((MUEN_NET_CHANNEL_DEFAULT_SIZE - crate::HEADER_SIZE) / MUEN_NET_ELEMENT_SIZE == 691);
};

/// Element size for frames of at most `frame_max` bytes: `frame_max + 2`.
pub const fn net_element_size(frame_max: usize) -> usize {
    frame_max + LENGTH_FIELD
}

/// Offset of the length field inside an element of `element_size` bytes
/// (for callers that read the length in place), `None` if the element
/// cannot even hold the length.
pub const fn net_length_offset(element_size: usize) -> Option<usize> {
    element_size.checked_sub(LENGTH_FIELD)
}

/// Why a frame could not be encoded into or decoded from an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    /// The element buffer is shorter than the 2-byte length field.
    ElementTooSmall,
    /// The frame (to encode) or the stored length (when decoding) exceeds
    /// the element's frame capacity.
    FrameTooLong {
        /// Frame length given or stored.
        len: usize,
        /// Capacity: element size minus 2.
        frame_max: usize,
    },
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ElementTooSmall => f.write_str("net element smaller than its length field"),
            Self::FrameTooLong { len, frame_max } => {
                write!(f, "frame of {len} bytes exceeds the element's {frame_max}")
            }
        }
    }
}

impl core::error::Error for NetError {}

/// Store `frame` in `element` (whose whole length is the element size): the
/// frame bytes, zeroes up to the length field, then the length. On error
/// `element` is untouched.
pub fn encode_net_frame(element: &mut [u8], frame: &[u8]) -> Result<(), NetError> {
    let frame_max = net_length_offset(element.len()).ok_or(NetError::ElementTooSmall)?;
    if frame.len() > frame_max {
        return Err(NetError::FrameTooLong {
            len: frame.len(),
            frame_max,
        });
    }
    // The length field cannot carry more than u16::MAX: check, never truncate.
    let len = u16::try_from(frame.len()).map_err(|_| NetError::FrameTooLong {
        len: frame.len(),
        frame_max: usize::from(u16::MAX),
    })?;
    let (data, length) = element.split_at_mut(frame_max);
    data[..frame.len()].copy_from_slice(frame);
    data[frame.len()..].fill(0);
    length.copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// The frame stored in `element`, checked against the element's capacity.
pub fn decode_net_frame(element: &[u8]) -> Result<&[u8], NetError> {
    let frame_max = net_length_offset(element.len()).ok_or(NetError::ElementTooSmall)?;
    let len = net_frame_len(element.len(), [element[frame_max], element[frame_max + 1]])?;
    Ok(&element[..len])
}

/// Validate a length field read in place (`raw`, the two bytes at
/// [`net_length_offset`]) for an element of `element_size` bytes and return
/// the frame length.
pub fn net_frame_len(element_size: usize, raw: [u8; 2]) -> Result<usize, NetError> {
    let frame_max = net_length_offset(element_size).ok_or(NetError::ElementTooSmall)?;
    let len = usize::from(u16::from_le_bytes(raw));
    if len > frame_max {
        return Err(NetError::FrameTooLong { len, frame_max });
    }
    Ok(len)
}
