//! Following a delta link ("Use change tracking to synchronize data with external systems"): rows
//! written since the token's version in full (the same shape as the full read), then deleted rows
//! as `$deletedEntity` entries (key in `id`, `"reason":"deleted"`, no ETag), paged like any read,
//! and a new delta link on the last page only. Tokens older than the retention period, or expired
//! through `POST /_sandbox/dataverse/expire_tokens`, answer ExpiredVersionStamp.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::cookie::Cookie;
use super::error::{self, INVALID_ARGUMENT};
use super::json;
use super::read::{Read, Shape};
use crate::model::{Store, Table};
use crate::odata::{ODataError, query};

/// A delta token: the first version it has not seen, and when it was issued. Written as Dataverse
/// writes them, `919042!08/22/2017 08:10:44`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub version: i64,
    /// Unix seconds.
    pub issued: i64,
}

const TIME_FORMAT: &str = "%m/%d/%Y %H:%M:%S";

impl Token {
    pub fn new(version: i64, issued: i64) -> Self {
        Self { version, issued }
    }

    pub fn text(&self) -> String {
        let at = DateTime::from_timestamp(self.issued, 0).unwrap_or_default();
        format!("{}!{}", self.version, at.format(TIME_FORMAT))
    }

    pub fn parse(text: &str) -> Option<Token> {
        let (version, at) = text.split_once('!')?;
        let at = NaiveDateTime::parse_from_str(at.trim(), TIME_FORMAT).ok()?;
        Some(Token {
            version: version.trim().parse().ok()?,
            issued: at.and_utc().timestamp(),
        })
    }

    /// Parses `text` and refuses it when expired.
    pub fn check(
        text: &str,
        store: &Store,
        lifetime: Duration,
        now: DateTime<Utc>,
    ) -> Result<Token, ODataError> {
        let token = Token::parse(text).ok_or_else(|| {
            error::bad_request(
                INVALID_ARGUMENT,
                format!("The $deltatoken '{text}' is not valid."),
            )
        })?;
        let age = now.timestamp().saturating_sub(token.issued);
        let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        if store.delta_token_expired(token.version) || age > lifetime {
            return Err(error::expired_token());
        }
        Ok(token)
    }
}

/// One page of changes since `token`.
pub fn page(
    read: &Read<'_>,
    shape: &Shape<'_>,
    table: &Table,
    token: &Token,
    token_text: &str,
    cookie: Option<Cookie>,
    page_size: usize,
) -> Result<Vec<u8>, ODataError> {
    let snapshot = cookie
        .as_ref()
        .and_then(|c| c.snapshot)
        .unwrap_or_else(|| (read.store.next_version(), Utc::now().timestamp()));
    let (mut phase, mut last) = cookie
        .as_ref()
        .map_or((0, token.version - 1), |c| (c.phase, c.last));
    let mut out: Vec<String> = Vec::new();
    let mut more = false;
    if phase == 0 {
        let from = (last + 1).max(token.version);
        for (version, row) in table.by_version.range(from..snapshot.0) {
            if out.len() == page_size {
                more = true;
                break;
            }
            let mut text = String::new();
            shape.writer.row(&mut text, row, Some(*version), "");
            out.push(text);
            last = *version;
        }
    }
    if !more {
        let from = if phase == 1 { last + 1 } else { token.version };
        let deleted_context = format!("{}$metadata#{}/$deletedEntity", read.root, read.set);
        let tombstones = table
            .tombstones
            .iter()
            .filter(|(v, _)| *v >= from && *v < snapshot.0);
        for (version, key) in tombstones {
            // Deleted, then created again with the same id within this delta: the upsert stands.
            let recreated = table
                .rows
                .get(key)
                .and_then(|r| table.version_of(r))
                .is_some_and(|v| v > *version && v < snapshot.0);
            if recreated {
                continue;
            }
            if out.len() == page_size {
                more = true;
                break;
            }
            let id = key.first().map(json::value_json).unwrap_or_default();
            out.push(format!(
                "{{\"@odata.context\":{},\"id\":{id},\"reason\":\"deleted\"}}",
                serde_json::Value::from(deleted_context.as_str())
            ));
            (phase, last) = (1, *version);
        }
    }
    let next_link = more.then(|| {
        let next = Cookie {
            page: cookie.as_ref().map_or(1, |c| c.page + 1),
            snapshot: Some(snapshot),
            phase,
            last,
            ..Cookie::default()
        };
        let mut link = format!("{}{}?", read.root, read.set);
        if let Some(select) = shape.select {
            link.push_str(&format!("$select={}&", query::encode(select)));
        }
        link.push_str(&format!(
            "$deltatoken={}&$skiptoken={}",
            query::encode(token_text),
            query::encode(&next.token())
        ));
        link
    });
    let delta_link = (!more).then(|| shape.delta_link(read, &Token::new(snapshot.0, snapshot.1)));
    let context = format!("{}$metadata#{}/$delta", read.root, shape.context_set);
    Ok(json::collection(
        &context,
        None,
        &out,
        next_link.as_deref(),
        delta_link.as_deref(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_text_round_trips() {
        let t = Token::new(919_042, 1_503_389_444);
        assert_eq!(t.text(), "919042!08/22/2017 08:10:44");
        assert_eq!(Token::parse(&t.text()), Some(t));
        assert_eq!(Token::parse("garbage"), None);
    }
}
