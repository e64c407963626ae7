//! Fixed-size cells (whitepaper "Traffic Analysis Countermeasures":
//! fixed-size packet cells for forwarding layers).
//!
//! Every cell on every link is [`CELL_LEN`] = 2048 bytes: a 5-byte link header
//! (link circuit id or session handle, command) and a 2043-byte body. The body
//! of a relayed cell is a routing header of [`MAX_HOPS`] slots followed by the
//! payload; each hop removes one slot and appends pseudo-random filler, so the
//! layout, and the size, are the same at every position in the path.
//!
//! Why 2048: a 380-byte routing header for up to five layers leaves 1663 bytes
//! of payload, so a 128k-token prompt (~512 KiB) needs ~330 cells and a typical
//! streamed reply chunk fits one; Sphinx-based mixnets use the same order.

use super::OnionError;

/// Bytes in every cell on every link.
pub const CELL_LEN: usize = 2048;
/// Link header: circuit id or handle (u32, big-endian) and command (u8).
pub const LINK_HEADER_LEN: usize = 5;
/// Bytes in a cell body.
pub const BODY_LEN: usize = CELL_LEN - LINK_HEADER_LEN;
/// Most layers a routing header carries (up to four relays and an endpoint).
pub const MAX_HOPS: usize = 5;
/// AEAD nonce bytes per slot.
pub const NONCE_LEN: usize = 12;
/// AEAD tag bytes.
pub const TAG_LEN: usize = 16;
/// Plaintext bytes of a slot header.
pub const SLOT_PLAIN_LEN: usize = 48;
/// One layer's slot: nonce, sealed header, tag.
pub const SLOT_LEN: usize = NONCE_LEN + SLOT_PLAIN_LEN + TAG_LEN;
/// The routing header: [`MAX_HOPS`] slots.
pub const ROUTING_LEN: usize = MAX_HOPS * SLOT_LEN;
/// Payload bytes after the routing header.
pub const PAYLOAD_LEN: usize = BODY_LEN - ROUTING_LEN;

/// A cell body.
pub type Body = [u8; BODY_LEN];

/// Link-level command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Command {
    /// Link padding: the neighbour drops it.
    Padding = 0,
    /// Opens a session: carries an ntor onionskin.
    Create = 1,
    /// Answers `Create`: carries the ntor reply.
    Created = 2,
    /// A layered cell travelling a circuit from its initiator.
    Relay = 3,
    /// A layered cell routed by a reply block, addressed by session handle.
    Surb = 4,
    /// Tears a circuit down.
    Destroy = 5,
    /// Asks a relay for the cells waiting in a mailbox.
    MailboxPoll = 6,
    /// A stored cell returned from a mailbox.
    MailboxData = 7,
}

impl Command {
    fn from_u8(b: u8) -> Result<Self, OnionError> {
        Ok(match b {
            0 => Command::Padding,
            1 => Command::Create,
            2 => Command::Created,
            3 => Command::Relay,
            4 => Command::Surb,
            5 => Command::Destroy,
            6 => Command::MailboxPoll,
            7 => Command::MailboxData,
            other => return Err(OnionError::UnknownCommand(other)),
        })
    }
}

/// A decoded cell.
#[derive(Clone, PartialEq, Eq)]
pub struct Cell {
    /// Link circuit id (for `Relay`, `Create`, `Created`, `Destroy`) or the
    /// receiving hop's session handle (for `Surb`).
    pub id: u32,
    /// What the cell asks of its receiver.
    pub cmd: Command,
    /// The encoded payload.
    pub body: Box<Body>,
}

impl core::fmt::Debug for Cell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cell")
            .field("id", &self.id)
            .field("cmd", &self.cmd)
            .finish_non_exhaustive()
    }
}

impl Cell {
    /// A cell with a zeroed body.
    pub fn new(id: u32, cmd: Command) -> Self {
        Cell {
            id,
            cmd,
            body: Box::new([0u8; BODY_LEN]),
        }
    }

    /// A cell whose body starts with `data` (zero-padded); `data` must fit.
    pub fn with_data(id: u32, cmd: Command, data: &[u8]) -> Result<Self, OnionError> {
        if data.len() > BODY_LEN {
            return Err(OnionError::PayloadTooLarge {
                size: data.len(),
                capacity: BODY_LEN,
            });
        }
        let mut c = Cell::new(id, cmd);
        c.body[..data.len()].copy_from_slice(data);
        Ok(c)
    }

    /// The wire form: exactly [`CELL_LEN`] bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CELL_LEN);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.push(self.cmd as u8);
        out.extend_from_slice(&self.body[..]);
        assert_eq!(out.len(), CELL_LEN);
        out
    }

    /// The link header alone (id and command), for demultiplexing.
    pub fn decode_header(bytes: &[u8]) -> Result<(u32, Command), OnionError> {
        if bytes.len() != CELL_LEN {
            return Err(OnionError::CellLength {
                got: bytes.len(),
                expected: CELL_LEN,
            });
        }
        let id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        Ok((id, Command::from_u8(bytes[4])?))
    }

    /// Parses a wire cell; anything but exactly [`CELL_LEN`] bytes, or an
    /// unknown command, is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, OnionError> {
        if bytes.len() != CELL_LEN {
            return Err(OnionError::CellLength {
                got: bytes.len(),
                expected: CELL_LEN,
            });
        }
        let id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let cmd = Command::from_u8(bytes[4])?;
        let mut body = Box::new([0u8; BODY_LEN]);
        body.copy_from_slice(&bytes[LINK_HEADER_LEN..]);
        Ok(Cell { id, cmd, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_constants_add_up() {
        assert_eq!(SLOT_LEN, 76);
        assert_eq!(ROUTING_LEN, 380);
        assert_eq!(PAYLOAD_LEN, 1663);
        assert_eq!(LINK_HEADER_LEN + ROUTING_LEN + PAYLOAD_LEN, CELL_LEN);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2100)) {
            let _ = Cell::decode(&bytes);
        }

        #[test]
        fn encode_decode_round_trip(id in any::<u32>(), cmd in 0u8..8, fill in any::<u8>()) {
            let mut c = Cell::new(id, Command::from_u8(cmd).unwrap());
            c.body.fill(fill);
            let wire = c.encode();
            prop_assert_eq!(wire.len(), CELL_LEN);
            prop_assert_eq!(Cell::decode(&wire).unwrap(), c);
        }
    }

    #[test]
    fn wrong_lengths_and_commands_are_errors() {
        assert_eq!(
            Cell::decode(&[0u8; CELL_LEN - 1]),
            Err(OnionError::CellLength {
                got: CELL_LEN - 1,
                expected: CELL_LEN
            })
        );
        let mut wire = Cell::new(1, Command::Relay).encode();
        wire[4] = 99;
        assert_eq!(Cell::decode(&wire), Err(OnionError::UnknownCommand(99)));
    }
}
