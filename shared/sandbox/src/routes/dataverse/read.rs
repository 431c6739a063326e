//! GET of a collection or one row ("Query data using the Web API", "Page results"): rows in SQL
//! Server's order, pages by a paging cookie, `$skip` refused, `$top` winning over
//! `odata.maxpagesize` (one page, no next link), `$count` stopping at 5,000, and change tracking
//! started by `Prefer: odata.track-changes`.

use std::cmp::Ordering;

use chrono::Utc;

use super::cookie::{self, Cookie};
use super::delta::{self, Token};
use super::error::{self, QUERY_NOT_SUPPORTED};
use super::json::{self, Writer};
use super::prefer::{MAX_PAGE_SIZE, Prefer};
use crate::model::dataverse::{self, order};
use crate::model::{Api, Row, Store, Table, Value};
use crate::odata::query::{self, RawOptions, SortKey};
use crate::odata::{ODataError, filter};
use crate::state::AppState;

/// `@odata.count` never says more than this ("Query data using the Web API": counts stop at 5,000).
pub const MAX_COUNT: usize = 5_000;

/// One GET against an entity set.
#[derive(Debug, Clone, Copy)]
pub struct Read<'a> {
    pub state: &'a AppState,
    pub store: &'a Store,
    /// The service root, ending in `/`.
    pub root: &'a str,
    pub set: &'a str,
    pub prefer: &'a Prefer,
}

/// Compares a row with a cookie position (the last row's sort values).
fn cmp_position(row: &[Value], position: &[Value], sort: &[SortKey]) -> Ordering {
    for (k, p) in sort.iter().zip(position) {
        let o = order::cmp_values(&row[k.field], p);
        let o = if k.desc { o.reverse() } else { o };
        if o.is_ne() {
            return o;
        }
    }
    Ordering::Equal
}

fn cmp_rows(a: &[Value], b: &[Value], sort: &[SortKey]) -> Ordering {
    let position: Vec<Value> = sort.iter().map(|k| b[k.field].clone()).collect();
    cmp_position(a, &position, sort)
}

impl Read<'_> {
    pub fn table(&self) -> Result<&Table, ODataError> {
        dataverse::logical_of(self.set)
            .and_then(|logical| self.store.table(logical))
            .filter(|t| t.schema.api == Api::Dataverse)
            .ok_or_else(|| error::no_resource(self.set))
    }

    /// A page of the collection, with the `Preference-Applied` value.
    pub fn collection(
        &self,
        options: &RawOptions,
    ) -> Result<(Vec<u8>, Option<String>), ODataError> {
        let has = |name: &str| query::get(options, name).is_some();
        if has("$skip") {
            return Err(error::skip_not_supported());
        }
        let delta_token = query::get(options, "$deltatoken");
        let tracking = self.prefer.track_changes || delta_token.is_some();
        if tracking {
            for option in ["$filter", "$orderby", "$top", "$expand"] {
                if has(option) {
                    return Err(error::not_with_tracking(option));
                }
            }
        }
        if has("$expand") {
            return Err(error::bad_request(
                QUERY_NOT_SUPPORTED,
                "The sandbox does not serve $expand.",
            ));
        }
        let table = self.table()?;
        let schema = table.schema;
        let base: RawOptions = options
            .iter()
            .filter(|(n, _)| n != "$skiptoken" && n != "$deltatoken")
            .cloned()
            .collect();
        let mut q = query::compile(&base, schema)?;
        if let Some(text) = query::get(options, "$filter") {
            q.filter = Some(filter::compile_ignoring_case(text, schema)?);
        }
        let cookie = query::get(options, "$skiptoken")
            .map(Cookie::parse)
            .transpose()?;
        let page_size = self.prefer.max_page_size.unwrap_or(MAX_PAGE_SIZE);
        let columns = json::columns(schema, q.select.as_deref());
        let select = query::get(options, "$select");
        let shape = Shape {
            writer: Writer {
                store: self.store,
                schema,
                columns: &columns,
                prefer: self.prefer,
            },
            context_set: match &q.select {
                Some(fields) => {
                    let names: Vec<&str> = fields.iter().map(|&i| schema.fields[i].name).collect();
                    format!("{}({})", self.set, names.join(","))
                }
                None => self.set.to_owned(),
            },
            select,
        };
        if let Some(text) = delta_token {
            let token = Token::check(
                text,
                self.store,
                self.state.config.delta_token_lifetime,
                Utc::now(),
            )?;
            let body = delta::page(self, &shape, table, &token, text, cookie, page_size)?;
            return Ok((body, self.prefer.applied(true, true)));
        }

        let after = match cookie.as_ref().and_then(|c| c.pos.as_deref()) {
            Some(pos) => Some(cookie::decode_position(pos, schema, &q.order)?),
            None => None,
        };
        let matches = |r: &Row| q.filter.as_ref().is_none_or(|f| f.eval(r));
        let count = q.count.then(|| {
            table
                .rows
                .values()
                .filter(|r| matches(r))
                .count()
                .min(MAX_COUNT)
        });
        let mut rows: Vec<&Row> = table
            .rows
            .values()
            .filter(|r| matches(r))
            .filter(|r| {
                after
                    .as_ref()
                    .is_none_or(|a| cmp_position(r, a, &q.order).is_gt())
            })
            .collect();
        rows.sort_by(|a, b| cmp_rows(a, b, &q.order));
        let limit = q.top.map_or(page_size, |t| t.min(MAX_PAGE_SIZE));
        let more = q.top.is_none() && rows.len() > limit;
        rows.truncate(limit);

        let snapshot = tracking.then(|| {
            cookie
                .as_ref()
                .and_then(|c| c.snapshot)
                .unwrap_or_else(|| (self.store.next_version(), Utc::now().timestamp()))
        });
        let next_link = match rows.last() {
            Some(last) if more => {
                let key = schema.key_indices()[0];
                let next = Cookie {
                    page: cookie.as_ref().map_or(1, |c| c.page + 1),
                    pos: Some(cookie::encode_position(last, &q.order)),
                    snapshot,
                    last_key: Some((
                        schema.fields[key].name.to_owned(),
                        json::value_json(&last[key]).trim_matches('"').to_owned(),
                    )),
                    ..Cookie::default()
                };
                Some(format!(
                    "{}{}?{}",
                    self.root,
                    self.set,
                    query::next_query(&base, None, &next.token())
                ))
            }
            _ => None,
        };
        let delta_link = match snapshot {
            Some((version, at)) if next_link.is_none() => {
                Some(shape.delta_link(self, &Token::new(version, at)))
            }
            _ => None,
        };
        let rows: Vec<String> = rows
            .iter()
            .map(|r| {
                let mut out = String::new();
                shape.writer.row(&mut out, r, table.version_of(r), "");
                out
            })
            .collect();
        let context = format!("{}$metadata#{}", self.root, shape.context_set);
        let body = json::collection(
            &context,
            count,
            &rows,
            next_link.as_deref(),
            delta_link.as_deref(),
        );
        let applied = self.prefer.applied(q.top.is_none(), snapshot.is_some());
        Ok((body, applied))
    }

    /// `accounts(<guid>)`.
    pub fn single(&self, id: &str, options: &RawOptions) -> Result<Vec<u8>, ODataError> {
        if let Some((name, _)) = options
            .iter()
            .find(|(n, _)| n.starts_with('$') && n != "$select")
        {
            return Err(error::bad_request(
                QUERY_NOT_SUPPORTED,
                format!("The query parameter {name} is not supported on a single record."),
            ));
        }
        let table = self.table()?;
        let schema = table.schema;
        let logical = schema.name;
        let guid: uuid::Uuid = id
            .trim()
            .parse()
            .map_err(|_| error::not_found(logical, id))?;
        let row = table
            .rows
            .get(&vec![Value::Guid(guid)])
            .ok_or_else(|| error::not_found(logical, id))?;
        let select = query::compile_select(options, schema)?;
        let columns = json::columns(schema, select.as_deref());
        let writer = Writer {
            store: self.store,
            schema,
            columns: &columns,
            prefer: self.prefer,
        };
        let context = format!("{}$metadata#{}/$entity", self.root, self.set);
        let extra = format!("\"@odata.context\":{},", serde_json::Value::from(context));
        let mut out = String::new();
        writer.row(&mut out, row, table.version_of(row), &extra);
        Ok(out.into_bytes())
    }
}

/// How the rows of one response are written, and what its links keep.
#[derive(Debug)]
pub struct Shape<'a> {
    pub writer: Writer<'a>,
    /// `accounts` or `accounts(name,accountid)`: the context's entity set part.
    pub context_set: String,
    /// The client's `$select`, kept in next and delta links.
    pub select: Option<&'a str>,
}

impl Shape<'_> {
    /// The collection URL with `$deltatoken` (and the same `$select`).
    pub fn delta_link(&self, read: &Read<'_>, token: &Token) -> String {
        let mut link = format!("{}{}?", read.root, read.set);
        if let Some(select) = self.select {
            link.push_str(&format!("$select={}&", query::encode(select)));
        }
        link.push_str(&format!("$deltatoken={}", query::encode(&token.text())));
        link
    }
}
