//! Parsing `$metadata` while its HTTP body arrives: the async side copies each chunk into a buffer
//! from a small pool and hands it over a bounded channel to a parse on a blocking thread, which gives
//! the buffer back once read. So the document is never whole in memory and the async threads never
//! run the parse. The copy lets the HTTP client's chunk go at once: held in the channel instead, it
//! made the client allocate a fresh buffer per chunk, and with mimalloc (the binaries' allocator) a
//! 256 MB body left over 100 MB resident though the heap in use stayed under 4 MB; copied, 44 MB.

use std::io::{self, Read};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{CsdlError, Metadata, joined};

/// Buffers handed over but not yet parsed: what a parser slower than the network holds besides its
/// model.
const IN_FLIGHT: usize = 16;
/// The size of each buffer: a body's chunk is copied in pieces of at most this.
const PIECE: usize = 64 * 1024;

/// A parse running on a blocking thread, fed the document a piece at a time.
#[derive(Debug)]
pub struct Feed {
    pieces: mpsc::Sender<Vec<u8>>,
    /// Buffers the parser has read, to be filled again.
    spent: mpsc::UnboundedReceiver<Vec<u8>>,
    parse: JoinHandle<Result<Metadata, CsdlError>>,
}

impl Feed {
    /// Starts the parse on a blocking thread of the current runtime; it waits for the document.
    pub fn start() -> Feed {
        let (pieces, received) = mpsc::channel(IN_FLIGHT);
        let (give_back, spent) = mpsc::unbounded_channel();
        let parse = tokio::task::spawn_blocking(move || {
            Metadata::read(Pieces {
                received,
                give_back,
                current: Vec::new(),
                at: 0,
            })
        });
        Feed {
            pieces,
            spent,
            parse,
        }
    }

    /// Hands the parser the document's next bytes, waiting while it is [`IN_FLIGHT`] pieces behind.
    /// False when the parser has stopped early: the document is bad, and [`Feed::finish`] says why.
    /// `chunk` is copied and dropped before any wait (see the module's note).
    pub async fn push(&mut self, chunk: impl AsRef<[u8]>) -> bool {
        let mut pieces = Vec::new();
        for bytes in chunk.as_ref().chunks(PIECE) {
            let mut piece = self
                .spent
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(PIECE));
            piece.clear();
            piece.extend_from_slice(bytes);
            pieces.push(piece);
        }
        drop(chunk);
        for piece in pieces {
            if self.pieces.send(piece).await.is_err() {
                return false;
            }
        }
        true
    }

    /// The document ended: what the parser made of it. (Dropping a feed instead ends the parse with
    /// an error nobody reads: the caller knows the body failed.)
    pub async fn finish(self) -> Result<Metadata, CsdlError> {
        drop(self.pieces);
        joined(self.parse.await)
    }
}

/// The parser's side of the channel, as bytes to read: the end of the document is the channel
/// closing.
struct Pieces {
    received: mpsc::Receiver<Vec<u8>>,
    /// Where a buffer goes once read.
    give_back: mpsc::UnboundedSender<Vec<u8>>,
    current: Vec<u8>,
    /// How far into `current` has been read.
    at: usize,
}

impl Read for Pieces {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let rest = &self.current[self.at..];
            if !rest.is_empty() {
                let n = rest.len().min(out.len());
                out[..n].copy_from_slice(&rest[..n]);
                self.at += n;
                return Ok(n);
            }
            match self.received.blocking_recv() {
                Some(piece) => {
                    let read = std::mem::replace(&mut self.current, piece);
                    if read.capacity() > 0 {
                        // The feed may be gone (the body failed): then the buffer is freed here.
                        let _ = self.give_back.send(read);
                    }
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BC: &str = include_str!("../../../tests/fixtures/bc-odatav4-metadata.xml");

    /// The real BC document in chunks of every small size (names and multi-byte characters cut
    /// anywhere) reads as it does whole.
    #[tokio::test]
    async fn a_document_fed_in_chunks_reads_as_it_does_whole() {
        let whole = Metadata::parse(BC).unwrap();
        for size in [1, 7, 64, 1000, 65_536] {
            let mut feed = Feed::start();
            for chunk in BC.as_bytes().chunks(size) {
                assert!(feed.push(chunk).await);
            }
            assert_eq!(feed.finish().await.unwrap(), whole, "chunks of {size}");
        }
    }

    /// A parser that fails stops taking chunks, so the body is not read to its end for nothing.
    #[tokio::test]
    async fn a_bad_document_stops_the_feed_and_says_why() {
        let mut feed = Feed::start();
        let mut refused = false;
        assert!(feed.push(b"<edmx:Edmx><Schema></edmx:Edmx>").await);
        for _ in 0..1000 {
            if !feed.push(b"<x/>").await {
                refused = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        let error = feed.finish().await.unwrap_err();
        assert!(error.to_string().contains("not well-formed"), "{error}");
        assert!(refused, "the feed refused chunks once the parse had failed");

        let mut feed = Feed::start();
        assert!(feed.push(b"<Schema Name=\"caf\xC3\x28\"/>").await);
        let error = feed.finish().await.unwrap_err();
        assert!(
            matches!(error, CsdlError::Unreadable { .. }) && error.to_string().contains("UTF-8"),
            "{error}"
        );
    }
}
