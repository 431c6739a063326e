//! The one paging stream (ARCHITECTURE.md, "The sync path"): every read of an entity set — a run's
//! delta, a preview, a reconcile's key scan, a replay of failed records — goes through [`Pages`], so
//! following `@odata.nextLink` (resolved against the service root, checked against its origin, each
//! request retried when busy, by the client beneath) is written once.

use std::collections::HashSet;

use url::Url;

use super::Source;
use crate::odata::client::{Rows, SourceError};

/// An entity set read a page at a time, in the source's order.
#[derive(Debug)]
pub struct Pages {
    source: Source,
    next: Option<Url>,
    /// Every page link followed so far: a service whose links lead back to a page already read would
    /// otherwise be read for ever (a link to the page itself ends the stream, as before).
    followed: HashSet<Url>,
    /// The first page, when it was read ahead (`read_first`).
    ready: Option<Rows>,
}

impl Pages {
    pub(super) fn new(source: Source, first: Url) -> Pages {
        Pages {
            source,
            followed: HashSet::from([first.clone()]),
            next: Some(first),
            ready: None,
        }
    }

    /// Reads the first page now, so a refusal of the stream as a whole (an expired delta link)
    /// reaches the caller before the pages are handed on; `next` then yields it first.
    pub async fn read_first(&mut self) -> Result<(), SourceError> {
        if let Some(rows) = self.next().await {
            self.ready = Some(rows?);
        }
        Ok(())
    }

    /// The next page's rows (with those that could not be decoded), or `None` after the last page. A
    /// failed request ends the stream: the caller's run retries from its checkpoint, not from the
    /// middle of a stream.
    pub async fn next(&mut self) -> Option<Result<Rows, SourceError>> {
        if let Some(rows) = self.ready.take() {
            return Some(Ok(rows));
        }
        let url = self.next.take()?;
        match self.source.client.page(&url).await {
            Ok(page) => {
                // A page that links to itself is the last one.
                match page.next.filter(|next| *next != url) {
                    Some(next) if !self.followed.insert(next.clone()) => {
                        return Some(Err(SourceError::LinkCycle {
                            url: crate::odata::client::display(&next),
                        }));
                    }
                    next => self.next = next,
                }
                Some(Ok(page.rows))
            }
            Err(e) => Some(Err(e)),
        }
    }
}
