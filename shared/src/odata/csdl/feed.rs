//! Parsing `$metadata` while its HTTP body arrives: the async side hands each chunk over a bounded
//! channel to a parse on a blocking thread, so the document is never whole in memory and the async
//! threads never run the parse.

use std::io::{self, Read};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{CsdlError, Metadata, joined};

/// Chunks handed over but not yet parsed: what a parser slower than the network holds besides its
/// model (a body's chunks are at most tens of KB each).
const IN_FLIGHT: usize = 16;

/// A parse running on a blocking thread, fed one chunk of the document at a time.
#[derive(Debug)]
pub struct Feed<B> {
    chunks: mpsc::Sender<B>,
    parse: JoinHandle<Result<Metadata, CsdlError>>,
}

impl<B: AsRef<[u8]> + Send + 'static> Feed<B> {
    /// Starts the parse; it waits for chunks.
    pub fn start() -> Feed<B> {
        let (chunks, received) = mpsc::channel(IN_FLIGHT);
        let parse = tokio::task::spawn_blocking(move || {
            Metadata::read(Chunks {
                received,
                current: None,
                at: 0,
            })
        });
        Feed { chunks, parse }
    }

    /// Hands the parser the document's next bytes, waiting while it is [`IN_FLIGHT`] chunks behind.
    /// False when the parser has stopped early: the document is bad, and [`Feed::finish`] says why.
    pub async fn push(&self, chunk: B) -> bool {
        self.chunks.send(chunk).await.is_ok()
    }

    /// The document ended: what the parser made of it. (Dropping a feed instead ends the parse with
    /// an error nobody reads: the caller knows the body failed.)
    pub async fn finish(self) -> Result<Metadata, CsdlError> {
        drop(self.chunks);
        joined(self.parse.await)
    }
}

/// The parser's side of the channel, as bytes to read: the end of the document is the channel
/// closing.
struct Chunks<B> {
    received: mpsc::Receiver<B>,
    current: Option<B>,
    /// How far into `current` has been read.
    at: usize,
}

impl<B: AsRef<[u8]>> Read for Chunks<B> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(chunk) = &self.current {
                let rest = &chunk.as_ref()[self.at..];
                if !rest.is_empty() {
                    let n = rest.len().min(out.len());
                    out[..n].copy_from_slice(&rest[..n]);
                    self.at += n;
                    return Ok(n);
                }
            }
            match self.received.blocking_recv() {
                Some(chunk) => {
                    self.current = Some(chunk);
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
            let feed = Feed::start();
            for chunk in BC.as_bytes().chunks(size) {
                assert!(feed.push(chunk.to_vec()).await);
            }
            assert_eq!(feed.finish().await.unwrap(), whole, "chunks of {size}");
        }
    }

    /// A parser that fails stops taking chunks, so the body is not read to its end for nothing.
    #[tokio::test]
    async fn a_bad_document_stops_the_feed_and_says_why() {
        let feed = Feed::start();
        let mut refused = false;
        assert!(feed.push(b"<edmx:Edmx><Schema></edmx:Edmx>".to_vec()).await);
        for _ in 0..1000 {
            if !feed.push(b"<x/>".to_vec()).await {
                refused = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        let error = feed.finish().await.unwrap_err();
        assert!(error.to_string().contains("not well-formed"), "{error}");
        assert!(refused, "the feed refused chunks once the parse had failed");

        let feed = Feed::start();
        assert!(feed.push(b"<Schema Name=\"caf\xC3\x28\"/>".to_vec()).await);
        let error = feed.finish().await.unwrap_err();
        assert!(
            matches!(error, CsdlError::Unreadable { .. }) && error.to_string().contains("UTF-8"),
            "{error}"
        );
    }
}
