//! Bounded reads (invariant 5): every body Ferry reads from another server — a token answer, an error,
//! `$metadata`, a page of rows — is read up to a cap of its kind, never whole on trust. A 1 GB
//! `$metadata` or token answer took a worker to 2.6 GB; now the attempt fails at the cap, naming the
//! setting that raises it. The caps are process-wide (the `[limits]` settings, installed when settings
//! load), so the token endpoint and the OData client read them without every caller passing them down.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde::Deserialize;

/// The `[limits]` settings, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// A token endpoint's answer (a token is a few KB).
    pub token_bytes: u64,
    /// An error answer: only its first bytes are read, for the message.
    pub error_bytes: u64,
    /// A `$metadata` document: Business Central's largest are a few MB, Dataverse's tens of MB (most
    /// of it annotations). It is parsed as it streams in and never held whole, so this cap bounds the
    /// time spent reading an endless answer, not memory: 256 MB leaves a large Dataverse room.
    pub metadata_bytes: u64,
    /// One page of rows (20,000 wide rows are tens of MB).
    pub page_bytes: u64,
}

const DEFAULT_TOKEN: u64 = 64 * 1024;
const DEFAULT_ERROR: u64 = 64 * 1024;
const DEFAULT_METADATA: u64 = 256 * 1024 * 1024;
const DEFAULT_PAGE: u64 = 256 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            token_bytes: DEFAULT_TOKEN,
            error_bytes: DEFAULT_ERROR,
            metadata_bytes: DEFAULT_METADATA,
            page_bytes: DEFAULT_PAGE,
        }
    }
}

static TOKEN: AtomicU64 = AtomicU64::new(DEFAULT_TOKEN);
static ERROR: AtomicU64 = AtomicU64::new(DEFAULT_ERROR);
static METADATA: AtomicU64 = AtomicU64::new(DEFAULT_METADATA);
static PAGE: AtomicU64 = AtomicU64::new(DEFAULT_PAGE);

/// Makes `limits` the caps of every later read in this process.
pub fn install(limits: &Limits) {
    TOKEN.store(limits.token_bytes, Ordering::Relaxed);
    ERROR.store(limits.error_bytes, Ordering::Relaxed);
    METADATA.store(limits.metadata_bytes, Ordering::Relaxed);
    PAGE.store(limits.page_bytes, Ordering::Relaxed);
}

/// The kinds of body, each with its own cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Token,
    Error,
    Metadata,
    Page,
}

impl Body {
    /// The cap in force for this kind.
    pub fn cap(self) -> u64 {
        match self {
            Body::Token => &TOKEN,
            Body::Error => &ERROR,
            Body::Metadata => &METADATA,
            Body::Page => &PAGE,
        }
        .load(Ordering::Relaxed)
    }

    pub fn setting(self) -> &'static str {
        match self {
            Body::Token => "limits.token_bytes",
            Body::Error => "limits.error_bytes",
            Body::Metadata => "limits.metadata_bytes",
            Body::Page => "limits.page_bytes",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Body::Token => "the token endpoint's answer",
            Body::Error => "the error answer",
            Body::Metadata => "the $metadata document",
            Body::Page => "the page",
        }
    }
}

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "{what} is larger than {cap} bytes, the most {setting} allows: it was not read further (raise \
         {setting} if the service really sends that much)"
    )]
    TooLarge {
        what: &'static str,
        cap: u64,
        setting: &'static str,
    },
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

impl ReadError {
    fn too_large(body: Body) -> ReadError {
        ReadError::TooLarge {
            what: body.what(),
            cap: body.cap(),
            setting: body.setting(),
        }
    }
}

/// The whole body, or [`ReadError::TooLarge`] as soon as it is known to pass its cap.
pub async fn read(response: reqwest::Response, body: Body) -> Result<Vec<u8>, ReadError> {
    let declared = response.content_length().unwrap_or(0).min(body.cap());
    let mut out = Vec::with_capacity(declared as usize);
    let mut chunks = Capped::new(response, body)?;
    while let Some(chunk) = chunks.next().await? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A body read a chunk at a time up to its cap, for a body parsed as it streams in, whose whole is
/// never held.
#[derive(Debug)]
pub struct Capped {
    response: reqwest::Response,
    body: Body,
    /// Bytes read so far.
    read: u64,
}

impl Capped {
    /// [`ReadError::TooLarge`] at once when the body declares a length past its cap.
    pub fn new(response: reqwest::Response, body: Body) -> Result<Capped, ReadError> {
        if response.content_length().is_some_and(|n| n > body.cap()) {
            return Err(ReadError::too_large(body));
        }
        Ok(Capped {
            response,
            body,
            read: 0,
        })
    }

    /// The next chunk, `None` at the end, or [`ReadError::TooLarge`] with the chunk that passes the
    /// cap.
    pub async fn next(&mut self) -> Result<Option<Bytes>, ReadError> {
        let Some(chunk) = self.response.chunk().await? else {
            return Ok(None);
        };
        self.read += chunk.len() as u64;
        if self.read > self.body.cap() {
            return Err(ReadError::too_large(self.body));
        }
        Ok(Some(chunk))
    }
}

/// At most the first `cap` bytes of the body, the rest left unread: for answers read only for a
/// message.
pub async fn read_prefix(mut response: reqwest::Response, body: Body) -> Vec<u8> {
    let cap = body.cap() as usize;
    let mut out = Vec::new();
    while out.len() < cap {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap - out.len();
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    out
}
