//! The definition format (ARCHITECTURE.md, "The definition format"). This shape is a contract: outside tests and the future web editor
//! write it, so every struct rejects unknown keys.

use serde::{Deserialize, Serialize};

/// A connection: where an external system is and how to sign in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionDef {
    pub name: String,
    pub kind: ConnectionKind,
    /// The service root, e.g. `…/api/Resco/RescoIntegrations/v2.0` for a BC custom API.
    pub url: String,
    /// Business Central only: the company's name or id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    pub auth: AuthDef,
    /// Seconds one request to the service may take, from connecting to the last byte of its body
    /// (default 60): a stalled source fails the attempt, which is retried with backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Seconds to wait for the TCP and TLS connection to the service (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_secs: Option<u64>,
    /// Lets the service and sign-in URLs be plain `http://` on a host that is not loopback. Off by
    /// default: a token or secret sent over plain HTTP can be read on the way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_http: bool,
    /// How many requests every Ferry process together may send the service (`[connection.budget]`);
    /// what it leaves out takes the kind's default (`budget::Budget::of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetDef>,
}

/// A connection's request budget as the operator wrote it: the service's own limits for one user,
/// shared by every worker (Business Central: 5 at once and 6,000 per 300 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetDef {
    /// Requests in flight at once, across every worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<u32>,
    /// Requests sent within any `per_secs` seconds, across every worker (given together with
    /// `per_secs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u32>,
    /// The window `requests` is counted over, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_secs: Option<u64>,
}

/// A request's time limit when the connection does not set `timeout_secs`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// A connection's time limit when the connection does not set `connect_timeout_secs`.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
/// The most requests a budget may let be in flight at once (Dataverse allows 52 per user).
pub const MAX_BUDGET_CONCURRENT: u32 = 1_000;
/// The longest window a budget may count requests over (a day).
pub const MAX_BUDGET_WINDOW_SECS: u64 = 86_400;
/// The longest either limit may be: a request that takes longer is a stalled source.
pub const MAX_TIMEOUT_SECS: u64 = 3_600;

impl ConnectionDef {
    /// How long one request may take.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }

    /// How long connecting may take.
    pub fn connect_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.connect_timeout_secs
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    BusinessCentral,
    Dataverse,
    Odata,
}

/// How Ferry signs in. The secret itself never sits in a definition: only the name of the variable
/// that holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthDef {
    pub flow: AuthFlow,
    /// Microsoft's layout: `{authority}/{tenant}/oauth2/v2.0/token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Any RFC 6749 token endpoint; wins over authority + tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Any RFC 8628 device authorization endpoint; wins over authority + tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthFlow {
    ClientCredentials,
    DeviceCode,
    None,
}

/// An integration: which external entity maps to which local table, field by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationDef {
    pub name: String,
    pub connection: String,
    #[serde(default = "Direction::import")]
    pub direction: Direction,
    /// Cron with a seconds field, e.g. `0 */5 * * * *`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Lets `schedule` fire more often than once a minute (`definitions::schedule`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_frequent: bool,
    pub source: SourceDef,
    pub target: TargetDef,
    pub fields: Vec<FieldDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lookups: Vec<LookupDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletes: Option<DeletesDef>,
    /// Two-way sync: what happens to a record changed on both sides since the last sync (Business
    /// Central's sync engine: get update / send update / none). Default `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<Conflict>,
}

/// `conflict`: which side a record changed on both sides keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// The remote version is written locally; the local change is dropped.
    RemoteWins,
    /// The local version is written remotely; the remote change is overwritten.
    LocalWins,
    /// Neither side is written: the conflict waits in `ferry conflicts` for an operator.
    Manual,
}

impl Conflict {
    /// As the definition spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Conflict::RemoteWins => "remote_wins",
            Conflict::LocalWins => "local_wins",
            Conflict::Manual => "manual",
        }
    }
}

impl IntegrationDef {
    /// The conflict policy in force (`manual` unless the definition says).
    pub fn conflict_policy(&self) -> Conflict {
        self.conflict.unwrap_or(Conflict::Manual)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Import,
    Export,
    Bidirectional,
}

impl Direction {
    fn import() -> Direction {
        Direction::Import
    }

    /// As the definition spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Import => "import",
            Direction::Export => "export",
            Direction::Bidirectional => "bidirectional",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDef {
    /// The entity set, e.g. `RescoCustomer`.
    pub entity: String,
    pub key: Vec<String>,
    /// How Ferry learns what changed: `track` follows the service's delta links (OData change
    /// tracking, `Prefer: odata.track-changes`: Dataverse's default), `version` reads rows past a
    /// watermark of `version` or `modified`. Omitted: `version` when either is named, else `track`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
    /// The row-version property, e.g. `RowVersionNumber` (casing differs per BC page), or
    /// `systemRowVersion` on a custom API page of BC v21+. Exactly one of `version` and `modified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// A last-modified timestamp property, for sources with no version number (BC's standard API v2.0:
    /// `lastModifiedDateTime`). Exactly one of `version` and `modified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// An OData `$filter` expression combined (and) with the version predicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// How far below the checkpoint each incremental run starts reading (ARCHITECTURE.md, "Late commits"): a row's version
    /// is taken when it is written, not when its transaction commits, so a slow transaction can become
    /// visible below versions already read. Re-read rows that did not change cost no write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<i64>,
    /// With `modified`: the overlap in seconds. Timestamps are neither unique nor taken at commit, so
    /// the window is what catches rows that share the checkpoint's instant or commit late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_secs: Option<i64>,
}

/// `source.changes`: how an integration learns what changed at its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Changes {
    /// The service tracks changes and hands out delta links (deletes included).
    Track,
    /// Rows past a watermark of `source.version` or `source.modified`.
    Version,
}

/// What an integration's source orders its changes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOrder {
    /// A row version number (`source.version`).
    Version,
    /// A last-modified timestamp (`source.modified`); positions are Unix microseconds.
    Modified,
    /// The service's change tracking (`source.changes = "track"`): the position is a delta link, and
    /// rows carry none.
    Track,
}

/// `overlap_secs` without a default: a timestamp watermark without any window loses the rows that
/// share its instant on a resumed page.
pub const DEFAULT_OVERLAP_SECS: i64 = 60;

impl SourceDef {
    /// The property the source's changes are ordered by, and how (no property when tracked).
    pub fn change_field(&self) -> (&str, ChangeOrder) {
        match (self.changes, &self.version, &self.modified) {
            (Some(Changes::Track), _, _) => ("", ChangeOrder::Track),
            (_, Some(version), _) => (version, ChangeOrder::Version),
            (_, None, Some(modified)) => (modified, ChangeOrder::Modified),
            // `validate` refuses `changes = "version"` with neither.
            (Some(Changes::Version), None, None) => ("", ChangeOrder::Version),
            (None, None, None) => ("", ChangeOrder::Track),
        }
    }

    /// Whether the service's change tracking tells this integration what changed.
    pub fn tracked(&self) -> bool {
        self.change_field().1 == ChangeOrder::Track
    }

    /// How far below the checkpoint a run reads, in positions (versions, or microseconds).
    pub fn overlap_positions(&self) -> i64 {
        match self.change_field().1 {
            ChangeOrder::Version => self.overlap.unwrap_or(0),
            ChangeOrder::Track => 0,
            ChangeOrder::Modified => self
                .overlap_secs
                .unwrap_or(DEFAULT_OVERLAP_SECS)
                .saturating_mul(1_000_000),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDef {
    pub table: String,
    pub key: Vec<String>,
    /// Create the table from the source's `$metadata` types when it does not exist.
    #[serde(default)]
    pub create: bool,
    /// This integration writes the rows of a table (and key) another integration writes too, knowingly:
    /// `apply` refuses two integrations with the same target table and key unless both say so. A
    /// reconcile of either deletes a row only when no coupling of any integration still backs it.
    /// Left out of the stored form when false, so definitions from before it keep their digest.
    #[serde(default, skip_serializing_if = "is_false")]
    pub shared: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// One target column: copied from a source field (`from`) or a constant (`value`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<toml::Value>,
    /// `"upper"`, an inline table such as `{ default = "-" }`, or an array of them (see
    /// `mapping::Transform`); kept as TOML here and parsed by the mapping engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<toml::Value>,
    /// Read `from`'s formatted value instead of the value: a Dataverse choice's label (`Accounting`
    /// for `1`), which the source sends only when asked. The column is text. Left out of the stored
    /// form when false, so definitions from before it keep their digest.
    #[serde(default, skip_serializing_if = "is_false")]
    pub label: bool,
    /// Whether an export writes this field back to the source (default true): `false` keeps a field
    /// import-only. Constants, transforms and Dataverse's `_x_value` lookups never export. Left out of the
    /// stored form when true, so definitions from before it keep their digest.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub export: bool,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

impl FieldDef {
    /// Whether an export writes this field: copied from a source field as it is, and not kept
    /// import-only.
    pub fn exports(&self) -> bool {
        self.export
            && self.from.as_deref().is_some_and(|f| !is_lookup_value(f))
            && self.transform.is_none()
            && !self.label
    }
}

/// Dataverse's read-only lookup property `_{name}_value`: a lookup is written as
/// `{navigation}@odata.bind`, so such a field is import-only.
fn is_lookup_value(property: &str) -> bool {
    property.len() > "__value".len() && property.starts_with('_') && property.ends_with("_value")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupDef {
    pub to: String,
    pub from: Vec<String>,
    pub table: String,
    #[serde(rename = "match")]
    pub match_columns: Vec<String>,
    pub select: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletesDef {
    pub detect: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_share: Option<f64>,
    /// Flag vanished rows instead of deleting them: this timestamp column of the target gets the time
    /// the reconcile saw them gone, and every write of the row sets it back to NULL, so a row that
    /// comes back is live again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// Export: a row deleted locally is deleted at the source too (default false: the source keeps
    /// it, and the pair is uncoupled).
    #[serde(default, skip_serializing_if = "is_false")]
    pub export: bool,
    /// A record deleted on one side and changed on the other (Business Central's engine offers
    /// the same two): `restore` puts it back where it was deleted, `remove_coupling` uncouples the
    /// pair, which then no longer syncs. Unset: `conflict` decides, as for any conflict (and an
    /// export restores a record deleted remotely).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
}

impl DeletesDef {
    /// Whether a deletion conflict uncouples the pair instead of restoring the deleted side.
    pub fn removes_coupling(&self) -> bool {
        self.conflict.as_deref() == Some("remove_coupling")
    }
}
