//! A small big-endian binary codec: the canonical encodings that get signed
//! (adverts, quotes, receipts) and the DHT wire format. Reading past the end
//! is an error, never a panic.

use std::net::SocketAddr;

use crate::net::{ADDR_LEN, decode_addr, encode_addr};

/// Input ended early, or a field was out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncated;

/// Appends big-endian fields.
#[derive(Debug, Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// The bytes written.
    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
    /// The bytes written, in an allocation of exactly their length (a
    /// grown buffer can hold up to twice that, and allocators may keep a
    /// shrunk block at its old size).
    pub fn into_exact(self) -> Vec<u8> {
        if self.0.capacity() == self.0.len() {
            self.0
        } else {
            self.0.as_slice().to_vec()
        }
    }
    /// A byte.
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    /// A big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// A big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// Raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    /// A socket address (see [`crate::net::encode_addr`]).
    pub fn addr(&mut self, a: SocketAddr) {
        self.bytes(&encode_addr(a));
    }
    /// A length-prefixed (u16) string; longer strings are cut at 65,535 bytes
    /// on a character boundary.
    pub fn string(&mut self, s: &str) {
        let mut end = s.len().min(usize::from(u16::MAX));
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.u16(end as u16);
        self.bytes(&s.as_bytes()[..end]);
    }
}

/// Reads big-endian fields, failing cleanly at the end of input.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads from `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).ok_or(Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(Truncated)?;
        self.pos = end;
        Ok(s)
    }
    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    /// A byte.
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.take(1)?[0])
    }
    /// A big-endian u16.
    pub fn u16(&mut self) -> Result<u16, Truncated> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    /// A big-endian u64.
    pub fn u64(&mut self) -> Result<u64, Truncated> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// A socket address written by [`Writer::addr`].
    pub fn addr(&mut self) -> Result<SocketAddr, Truncated> {
        decode_addr(self.take(ADDR_LEN)?).ok_or(Truncated)
    }

    /// A length-prefixed (u16) UTF-8 string.
    pub fn string(&mut self, max: usize) -> Result<String, Truncated> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(Truncated);
        }
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| Truncated)
    }
    /// True if every byte was consumed.
    pub fn is_done(&self) -> bool {
        self.pos == self.buf.len()
    }
}
