//! Holds a streamed document to UTF-8 as it passes. The reader decodes only the attributes it keeps,
//! so without this a byte that is not UTF-8 in a skipped annotation would go unnoticed, and one in a
//! kept name would silently drop that attribute; a document read whole into a `String` was refused.

use std::io::{self, Read};

/// `inner`, failing with `InvalidData` at the first byte that is not UTF-8.
#[derive(Debug)]
pub(super) struct Utf8<R> {
    inner: R,
    /// The start of a character that the last read cut off (at most 3 bytes), and where it began.
    partial: Vec<u8>,
    partial_at: u64,
    /// Bytes passed so far, to say where a bad one is.
    passed: u64,
}

impl<R> Utf8<R> {
    pub(super) fn new(inner: R) -> Utf8<R> {
        Utf8 {
            inner,
            partial: Vec::with_capacity(4),
            partial_at: 0,
            passed: 0,
        }
    }
}

fn not_utf8(at: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not UTF-8 at byte {at}"),
    )
}

impl<R: Read> Read for Utf8<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        if n == 0 {
            if !out.is_empty() && !self.partial.is_empty() {
                return Err(not_utf8(self.partial_at));
            }
            return Ok(0);
        }
        let mut rest = &out[..n];
        // First finish the character the last read cut off, a byte at a time.
        while !self.partial.is_empty() && !rest.is_empty() {
            self.partial.push(rest[0]);
            rest = &rest[1..];
            match std::str::from_utf8(&self.partial) {
                Ok(_) => self.partial.clear(),
                Err(e) if e.error_len().is_none() => {}
                Err(_) => return Err(not_utf8(self.partial_at)),
            }
        }
        let checked_from = n - rest.len();
        match std::str::from_utf8(rest) {
            Ok(_) => {}
            // Cut off at the end of this read: checked when the next one brings the rest.
            Err(e) if e.error_len().is_none() => {
                self.partial.extend_from_slice(&rest[e.valid_up_to()..]);
                self.partial_at = self.passed + (checked_from + e.valid_up_to()) as u64;
            }
            Err(e) => {
                let at = self.passed + (checked_from + e.valid_up_to()) as u64;
                return Err(not_utf8(at));
            }
        }
        self.passed += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `bytes` through the check `step` bytes at a time, so characters are cut at every place.
    fn through(bytes: &[u8], step: usize) -> io::Result<Vec<u8>> {
        struct Steps<'a>(&'a [u8], usize);
        impl Read for Steps<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut read = Vec::new();
        Utf8::new(Steps(bytes, step)).read_to_end(&mut read)?;
        Ok(read)
    }

    #[test]
    fn characters_cut_between_reads_pass_and_bad_bytes_fail_where_they_are() {
        let text = "Straße, Ελλάδα, 東京, 🚢 ferry".as_bytes();
        for step in 1..8 {
            assert_eq!(through(text, step).unwrap(), text, "step {step}");
        }
        let mut bad = b"Name=\"caf".to_vec();
        bad.extend_from_slice(&[0xC3, 0x28]);
        for step in 1..8 {
            let error = through(&bad, step).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            assert!(error.to_string().contains("byte 9"), "step {step}: {error}");
        }
        let cut_short = &"é".as_bytes()[..1];
        assert!(
            through(cut_short, 1).is_err(),
            "a document ending mid-character"
        );
        assert!(through(&[0xFF], 1).is_err());
    }
}
