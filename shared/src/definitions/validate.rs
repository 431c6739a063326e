//! Checks that need no network: names, references between definitions, identifiers, cron expressions,
//! keys and transforms. Checks against the source's `$metadata` happen when a run starts.

use std::collections::HashSet;
use std::path::Path;

use super::load::{DefinitionError, DefinitionSet};
use super::model::{
    AuthDef, AuthFlow, BudgetDef, ConnectionDef, ConnectionKind, Direction, IntegrationDef,
    LookupDef, MAX_BUDGET_CONCURRENT, MAX_BUDGET_WINDOW_SECS, MAX_TIMEOUT_SECS,
};

/// Whether `name` is a transform a field may name as a plain string.
pub fn transform_known(name: &str) -> bool {
    crate::mapping::Transform::parse(&toml::Value::String(name.to_string())).is_ok()
}

/// A SQL identifier Ferry will quote and create: letters, digits and `_`, not starting with a digit,
/// at most 63 bytes (Postgres' limit).
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

/// A definition name an operator types on the command line and in URLs.
/// Said of a URL with a user name or password in it. The message never repeats the URL: what it would
/// show is the credential.
const USER_INFO: &str = "must not carry a user name or password (user@host): credentials go in \
                         [connection.auth] (a client secret in the environment or `ferry connection \
                         set-secret`), never in a URL";

/// Said of an `http://` URL on a host that is not loopback.
const PLAIN_HTTP: &str = "must be https:// (a token or secret sent over plain http can be read on the \
                          way); http:// is accepted on loopback, or with allow_http = true on the \
                          connection";

/// `http://` to a host other than loopback (`127.0.0.0/8`, `::1`, `localhost`).
fn plain_http(url: &url::Url) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    url.scheme() == "http" && !loopback
}

fn has_user_info(url: &url::Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// A name of letters, digits, `_`, `-` and `.`, with at least one letter or digit (`...` names nothing).
fn is_name(name: &str) -> bool {
    name.chars().any(|c| c.is_ascii_alphanumeric())
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

struct Reporter<'a> {
    errors: &'a mut Vec<DefinitionError>,
    /// `secrets.env_prefix`, when the caller knows the settings.
    env_prefix: Option<&'a str>,
}

impl Reporter<'_> {
    fn push(&mut self, file: &Path, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(DefinitionError {
            file: file.to_path_buf(),
            key: key.into(),
            message: message.into(),
        });
    }
}

pub(super) fn validate(
    set: &DefinitionSet,
    known_connections: &[String],
    stored_kinds: &[(String, ConnectionKind)],
    env_prefix: Option<&str>,
    errors: &mut Vec<DefinitionError>,
) {
    let mut report = Reporter { errors, env_prefix };
    let mut connection_names: HashSet<&str> = HashSet::new();
    for (file, connection) in &set.connections {
        let at = format!("connection {:?}", connection.name);
        if !connection_names.insert(&connection.name) {
            report.push(file, &at, "defined more than once");
        }
        check_connection(&mut report, file, &at, connection);
    }
    let mut integration_names = HashSet::new();
    for (file, integration) in &set.integrations {
        let at = format!("integration {:?}", integration.name);
        if !integration_names.insert(integration.name.as_str()) {
            report.push(file, &at, "defined more than once");
        }
        let known = connection_names.contains(integration.connection.as_str())
            || known_connections.contains(&integration.connection);
        if !known {
            report.push(
                file,
                format!("{at}.connection"),
                format!(
                    "no connection named {:?} is defined or stored",
                    integration.connection
                ),
            );
        }
        let kind = set
            .connections
            .iter()
            .find(|(_, c)| c.name == integration.connection)
            .map(|(_, c)| c.kind)
            .or_else(|| {
                stored_kinds
                    .iter()
                    .find(|(name, _)| *name == integration.connection)
                    .map(|(_, kind)| *kind)
            });
        check_integration(&mut report, file, &at, integration);
        super::changes::check_tracked_kind(&at, integration, kind, &mut |key, message| {
            report.push(file, key, message)
        });
    }
}

fn check_connection(report: &mut Reporter<'_>, file: &Path, at: &str, c: &ConnectionDef) {
    if !is_name(&c.name) {
        report.push(
            file,
            format!("{at}.name"),
            "use letters, digits, '_', '-' or '.'",
        );
    }
    match url::Url::parse(&c.url) {
        Ok(url) if has_user_info(&url) => report.push(file, format!("{at}.url"), USER_INFO),
        Ok(url) if plain_http(&url) && !c.allow_http => {
            report.push(file, format!("{at}.url"), PLAIN_HTTP)
        }
        Ok(url) if matches!(url.scheme(), "http" | "https") => {}
        _ => report.push(file, format!("{at}.url"), "must be an http(s) URL"),
    }
    match c.kind {
        ConnectionKind::BusinessCentral if c.company.is_none() => report.push(
            file,
            format!("{at}.company"),
            "Business Central connections need a company (name or id)",
        ),
        ConnectionKind::Odata if c.company.is_some() => report.push(
            file,
            format!("{at}.company"),
            "only business_central connections have a company; an odata url is the service root",
        ),
        ConnectionKind::Dataverse if c.company.is_some() => report.push(
            file,
            format!("{at}.company"),
            "only business_central connections have a company; a dataverse url is the environment",
        ),
        _ => {}
    }
    for (field, value) in [
        ("timeout_secs", c.timeout_secs),
        ("connect_timeout_secs", c.connect_timeout_secs),
    ] {
        if let Some(secs) = value
            && !(1..=MAX_TIMEOUT_SECS).contains(&secs)
        {
            report.push(
                file,
                format!("{at}.{field}"),
                format!("must be between 1 and {MAX_TIMEOUT_SECS} seconds, not {secs}"),
            );
        }
    }
    if let Some(budget) = &c.budget {
        check_budget(report, file, at, budget);
    }
    check_auth(report, file, at, &c.auth, c.allow_http);
}

/// A `[connection.budget]`: each number within reason, and a request count only with the window it
/// is counted over (6,000 requests mean nothing without "per 300 s").
fn check_budget(report: &mut Reporter<'_>, file: &Path, at: &str, b: &BudgetDef) {
    if let Some(n) = b.concurrent
        && !(1..=MAX_BUDGET_CONCURRENT).contains(&n)
    {
        report.push(
            file,
            format!("{at}.budget.concurrent"),
            format!("must be between 1 and {MAX_BUDGET_CONCURRENT} requests at once, not {n}"),
        );
    }
    if b.requests == Some(0) {
        report.push(
            file,
            format!("{at}.budget.requests"),
            "must be at least 1; leave requests and per_secs out for no count per window",
        );
    }
    if let Some(secs) = b.per_secs
        && !(1..=MAX_BUDGET_WINDOW_SECS).contains(&secs)
    {
        report.push(
            file,
            format!("{at}.budget.per_secs"),
            format!("must be between 1 and {MAX_BUDGET_WINDOW_SECS} seconds, not {secs}"),
        );
    }
    match (b.requests, b.per_secs) {
        (Some(_), None) => report.push(
            file,
            format!("{at}.budget.per_secs"),
            "give the window the requests are counted over too, e.g. requests = 6000 with per_secs = 300",
        ),
        (None, Some(_)) => report.push(
            file,
            format!("{at}.budget.requests"),
            "give how many requests the window allows too, e.g. requests = 6000 with per_secs = 300",
        ),
        _ => {}
    }
}

/// Whether `table` is one of Ferry's own (`ferry_…`). SQLite compares table names without case
/// (`Ferry_runs` is `ferry_runs`), so the prefix is matched the same way on both engines.
fn is_reserved(table: &str) -> bool {
    table.to_ascii_lowercase().starts_with("ferry_")
}

/// Why `client_secret_env` may not name `var`, or `None` when it may: Ferry's own variables (`FERRY…`,
/// among them the master key) are never a connection's secret, and where `secrets.env_prefix` is set
/// (`env_prefix`) only variables starting with it are, so a changed definition cannot make the worker
/// send another variable to a token endpoint. Checked at `apply` and again where the secret is read.
pub fn secret_env_refusal(var: &str, env_prefix: Option<&str>) -> Option<String> {
    if var.to_ascii_uppercase().starts_with("FERRY") {
        return Some(format!(
            "{var:?} is one of Ferry's own variables (FERRY…), never a connection's secret; name a \
             variable of your own, e.g. BC_CLIENT_SECRET"
        ));
    }
    match env_prefix {
        Some(prefix) if !var.starts_with(prefix) => Some(format!(
            "{var:?} does not start with {prefix:?} (secrets.env_prefix); name a variable that does"
        )),
        _ => None,
    }
}

/// What each sign-in flow needs. A client secret may come from `client_secret_env` or be stored
/// with `ferry connection set-secret`, so neither is required here.
fn check_auth(report: &mut Reporter<'_>, file: &Path, at: &str, auth: &AuthDef, allow_http: bool) {
    if let Some(var) = &auth.client_secret_env
        && let Some(refusal) = secret_env_refusal(var, report.env_prefix)
    {
        report.push(file, format!("{at}.auth.client_secret_env"), refusal);
    }
    let flow = match auth.flow {
        AuthFlow::ClientCredentials => "client_credentials",
        AuthFlow::DeviceCode => "device_code",
        AuthFlow::None => "none",
    };
    if auth.flow != AuthFlow::None {
        if auth.client_id.is_none() {
            report.push(
                file,
                format!("{at}.auth.client_id"),
                format!("required for {flow}"),
            );
        }
        if auth.scope.is_none() {
            report.push(
                file,
                format!("{at}.auth.scope"),
                format!("required for {flow}"),
            );
        }
        if auth.token_url.is_none() && auth.tenant.is_none() {
            report.push(
                file,
                format!("{at}.auth.tenant"),
                "required unless token_url is given",
            );
        }
    }
    if auth.flow == AuthFlow::DeviceCode
        && auth.device_authorization_url.is_none()
        && auth.tenant.is_none()
    {
        report.push(
            file,
            format!("{at}.auth.device_authorization_url"),
            "required for device_code unless tenant is given (Microsoft's layout)",
        );
    }
    for (key, value) in [
        ("authority", &auth.authority),
        ("token_url", &auth.token_url),
        ("device_authorization_url", &auth.device_authorization_url),
    ] {
        match value.as_deref().map(url::Url::parse) {
            Some(Err(_)) => report.push(file, format!("{at}.auth.{key}"), "must be a URL"),
            Some(Ok(url)) if has_user_info(&url) => {
                report.push(file, format!("{at}.auth.{key}"), USER_INFO)
            }
            Some(Ok(url)) if plain_http(&url) && !allow_http => {
                report.push(file, format!("{at}.auth.{key}"), PLAIN_HTTP)
            }
            _ => {}
        }
    }
}

/// An export writes each record back by its source key, so every key field must be copied both ways.
fn check_export(report: &mut Reporter<'_>, file: &Path, at: &str, i: &IntegrationDef) {
    for key in &i.source.key {
        let exported = i
            .fields
            .iter()
            .any(|f| f.from.as_deref() == Some(key.as_str()) && f.exports());
        if !exported {
            report.push(
                file,
                format!("{at}.source.key"),
                format!(
                    "an export needs the key field {key:?} copied both ways: map it with `from` \
                     and no transform, and leave `export` on"
                ),
            );
        }
    }
    if i.direction == Direction::Export && i.source.filter.is_some() {
        report.push(
            file,
            format!("{at}.source.filter"),
            "an export writes every changed local row; a filter applies to imports only",
        );
    }
}

fn check_integration(report: &mut Reporter<'_>, file: &Path, at: &str, i: &IntegrationDef) {
    if !is_name(&i.name) {
        report.push(
            file,
            format!("{at}.name"),
            "use letters, digits, '_', '-' or '.'",
        );
    }
    match i.direction {
        Direction::Import => {}
        Direction::Export | Direction::Bidirectional => check_export(report, file, at, i),
    }
    if i.conflict.is_some() && i.direction != Direction::Bidirectional {
        report.push(
            file,
            format!("{at}.conflict"),
            "a conflict policy applies to direction = \"bidirectional\" only (an export alone \
             writes its local changes over the remote ones)",
        );
    }
    if let Some(schedule) = &i.schedule
        && let Some(problem) = super::schedule::problem(schedule, i.allow_frequent)
    {
        report.push(file, format!("{at}.schedule"), problem);
    }
    if i.source.entity.trim().is_empty() {
        report.push(file, format!("{at}.source.entity"), "must not be empty");
    }
    if i.source.key.is_empty() {
        report.push(
            file,
            format!("{at}.source.key"),
            "name at least one key field",
        );
    }
    if i.source.overlap.is_some_and(|n| n < 0) {
        report.push(
            file,
            format!("{at}.source.overlap"),
            "must be zero or more versions",
        );
    }
    super::changes::check_changes(at, &i.source, &mut |key, message| {
        report.push(file, key, message)
    });
    if i.source.modified.is_some() && i.source.overlap.is_some() {
        report.push(
            file,
            format!("{at}.source.overlap"),
            "counts versions; with `modified` the window is `overlap_secs`",
        );
    }
    if i.source.version.is_some() && i.source.overlap_secs.is_some() {
        report.push(
            file,
            format!("{at}.source.overlap_secs"),
            "goes with `modified`; with `version` the window is `overlap` (in versions)",
        );
    }
    if i.source.overlap_secs.is_some_and(|n| n <= 0) {
        report.push(
            file,
            format!("{at}.source.overlap_secs"),
            "must be at least 1: timestamps are not unique, so a resumed read needs a window",
        );
    }
    if let Some(filter) = &i.source.filter
        && let Err(e) = crate::filter::parse(filter)
    {
        report.push(
            file,
            format!("{at}.source.filter"),
            format!("not a supported OData filter: {e}"),
        );
    }
    if !is_identifier(&i.target.table) {
        report.push(
            file,
            format!("{at}.target.table"),
            "use letters, digits and '_' (at most 63), not starting with a digit",
        );
    }
    if is_reserved(&i.target.table) {
        report.push(
            file,
            format!("{at}.target.table"),
            "the ferry_ prefix is reserved",
        );
    }
    if i.fields.is_empty() {
        report.push(file, format!("{at}.fields"), "map at least one field");
    }
    let mut columns = HashSet::new();
    for (n, field) in i.fields.iter().enumerate() {
        let here = format!("{at}.fields[{n}]");
        if !is_identifier(&field.to) {
            report.push(file, format!("{here}.to"), "not a valid column name");
        }
        if !columns.insert(field.to.as_str()) {
            report.push(
                file,
                format!("{here}.to"),
                format!("column {:?} mapped twice", field.to),
            );
        }
        let transform = field
            .transform
            .as_ref()
            .map(crate::mapping::Transform::parse);
        let composes = matches!(&transform, Some(Ok(t)) if !t.fields().is_empty());
        match (&field.from, &field.value) {
            (Some(_), Some(_)) => report.push(file, &here, "give either from or value, not both"),
            (None, None) if composes => {}
            (None, None) => report.push(
                file,
                &here,
                "give from (a source field) or value (a constant)",
            ),
            (None, Some(value)) => {
                if matches!(value, toml::Value::Array(_) | toml::Value::Table(_)) {
                    report.push(
                        file,
                        format!("{here}.value"),
                        "must be a string, number or boolean",
                    );
                }
            }
            (Some(_), None) => {}
        }
        if let Some(Err(e)) = transform {
            report.push(file, format!("{here}.transform"), e);
        }
        if field.label && field.from.is_none() {
            report.push(
                file,
                format!("{here}.label"),
                "label = true reads the formatted value (a choice's label) of the field named by \
                 from; give from, or leave label out",
            );
        }
    }
    if i.target.key.is_empty() {
        report.push(
            file,
            format!("{at}.target.key"),
            "name at least one key column",
        );
    }
    for key in &i.target.key {
        match i.fields.iter().find(|f| &f.to == key) {
            None => report.push(
                file,
                format!("{at}.target.key"),
                format!("key column {key:?} is not the `to` of any field"),
            ),
            Some(field) if field.from.is_none() => report.push(
                file,
                format!("{at}.target.key"),
                format!("key column {key:?} must come from a source field, not a constant"),
            ),
            Some(field) if field.label => report.push(
                file,
                format!("{at}.target.key"),
                format!(
                    "key column {key:?} must hold the field's value, not its label (labels are \
                     display text: not unique, and renamed or translated at the source)"
                ),
            ),
            Some(_) => {}
        }
    }
    for (n, lookup) in i.lookups.iter().enumerate() {
        check_lookup(
            report,
            file,
            &format!("{at}.lookups[{n}]"),
            lookup,
            &mut columns,
        );
    }
    for key in &i.target.key {
        if i.lookups.iter().any(|l| &l.to == key) {
            report.push(
                file,
                format!("{at}.target.key"),
                format!("key column {key:?} cannot be a lookup"),
            );
        }
    }
    if let Some(deletes) = &i.deletes {
        match deletes.conflict.as_deref() {
            None | Some("restore" | "remove_coupling") if i.direction != Direction::Import => {}
            None => {}
            Some("restore" | "remove_coupling") => report.push(
                file,
                format!("{at}.deletes.conflict"),
                "a deletion conflict needs an export: direction = \"export\" or \"bidirectional\"",
            ),
            Some(other) => report.push(
                file,
                format!("{at}.deletes.conflict"),
                format!(
                    "unknown deletion conflict policy {other:?} (known: restore, remove_coupling)"
                ),
            ),
        }
        match deletes.detect.as_str() {
            "reconcile" | "none" => {}
            "track" if i.source.tracked() => {}
            "track" => report.push(
                file,
                format!("{at}.deletes.detect"),
                "\"track\" takes deletes from the service's delta links: it needs \
                 source.changes = \"track\"; a watermark sees no deletes, use \"reconcile\"",
            ),
            other => report.push(
                file,
                format!("{at}.deletes.detect"),
                format!("unknown detection {other:?} (known: reconcile, track, none)"),
            ),
        }
        if let Some(share) = deletes.max_share
            && !(share > 0.0 && share <= 1.0)
        {
            report.push(
                file,
                format!("{at}.deletes.max_share"),
                "a share of the rows: above 0, at most 1 (e.g. 0.1)",
            );
        }
        if let Some(every) = &deletes.every
            && parse_every(every).is_none()
        {
            report.push(
                file,
                format!("{at}.deletes.every"),
                format!("not a period like \"30m\", \"1h\" or \"1d\": {every:?}"),
            );
        }
        if let Some(flag) = &deletes.flag {
            if !is_identifier(flag) {
                report.push(
                    file,
                    format!("{at}.deletes.flag"),
                    "not a valid column name",
                );
            } else if !columns.insert(flag.as_str()) {
                report.push(
                    file,
                    format!("{at}.deletes.flag"),
                    format!(
                        "column {flag:?} is already mapped; the flag needs a column of its own"
                    ),
                );
            }
        }
    }
}

/// A lookup: `to` a new column, `from` as many source fields as `match` names local columns, identifiers
/// Ferry can quote, and a known `missing` policy.
fn check_lookup<'a>(
    report: &mut Reporter<'_>,
    file: &Path,
    at: &str,
    lookup: &'a LookupDef,
    columns: &mut HashSet<&'a str>,
) {
    if !is_identifier(&lookup.to) {
        report.push(file, format!("{at}.to"), "not a valid column name");
    } else if !columns.insert(lookup.to.as_str()) {
        report.push(
            file,
            format!("{at}.to"),
            format!("column {:?} mapped twice", lookup.to),
        );
    }
    if lookup.from.is_empty() {
        report.push(file, format!("{at}.from"), "name at least one source field");
    }
    if lookup.from.len() != lookup.match_columns.len() {
        report.push(
            file,
            format!("{at}.match"),
            format!(
                "{} match column(s) for {} source field(s): name one per field, in order",
                lookup.match_columns.len(),
                lookup.from.len()
            ),
        );
    }
    for (key, name) in [("table", &lookup.table), ("select", &lookup.select)]
        .into_iter()
        .chain(lookup.match_columns.iter().map(|m| ("match", m)))
    {
        if !is_identifier(name) {
            report.push(
                file,
                format!("{at}.{key}"),
                format!("{name:?} is not a valid table or column name"),
            );
        }
    }
    if is_reserved(&lookup.table) {
        report.push(
            file,
            format!("{at}.table"),
            "the ferry_ prefix is reserved: a lookup may not read Ferry's own tables",
        );
    }
    if crate::lookup::Missing::parse(lookup.missing.as_deref()).is_none() {
        report.push(
            file,
            format!("{at}.missing"),
            format!(
                "unknown policy {:?} (known: {})",
                lookup.missing.as_deref().unwrap_or_default(),
                crate::lookup::Missing::NAMES.join(", ")
            ),
        );
    }
}

/// `30s`, `15m`, `1h`, `1d` as seconds.
pub fn parse_every(text: &str) -> Option<u64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    (n > 0).then_some(n * seconds)
}

#[cfg(test)]
mod tests {
    use super::super::load::load_files;

    /// Errors (key, message) for one file of connections.
    fn errors(toml: &str) -> Vec<(String, String)> {
        let dir = std::env::temp_dir().join(format!(
            "ferry-validate-{}-{}",
            std::process::id(),
            toml.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("defs.toml");
        std::fs::write(&file, toml).unwrap();
        let result = load_files(std::slice::from_ref(&file), &[]);
        std::fs::remove_dir_all(&dir).ok();
        match result {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| (e.key, e.message)).collect(),
        }
    }

    #[test]
    fn device_code_generic_odata_and_no_sign_in_are_accepted() {
        let ok = errors(
            r#"
[[connection]]
name = "user"
kind = "business_central"
url = "https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0"
company = "CRONUS"
auth = { flow = "device_code", tenant = "t", client_id = "c", scope = "s/.default" }

[[connection]]
name = "idp"
kind = "odata"
url = "https://example.com/odata"
auth = { flow = "device_code", client_id = "c", scope = "read offline_access", token_url = "https://idp.example/token", device_authorization_url = "https://idp.example/device" }

[[connection]]
name = "open"
kind = "odata"
url = "https://services.odata.org/V4/Northwind/Northwind.svc"
auth = { flow = "none" }

[[connection]]
name = "stored-secret"
kind = "odata"
url = "https://example.com/odata"
auth = { flow = "client_credentials", client_id = "c", scope = "s", token_url = "https://idp.example/token" }
"#,
        );
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn missing_endpoints_company_on_odata_and_dataverse_are_reported() {
        let found = errors(
            r#"
[[connection]]
name = "a"
kind = "odata"
url = "https://example.com/odata"
company = "CRONUS"
auth = { flow = "device_code", client_id = "c", scope = "s", token_url = "https://idp.example/token" }

[[connection]]
name = "b"
kind = "dataverse"
url = "https://org.crm.dynamics.com"
company = "CRONUS"
auth = { flow = "none" }
"#,
        );
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"connection \"a\".company"), "{found:?}");
        assert!(
            keys.contains(&"connection \"a\".auth.device_authorization_url"),
            "{found:?}"
        );
        assert!(keys.contains(&"connection \"b\".company"), "{found:?}");
        assert_eq!(found.len(), 3, "{found:?}");
    }
}
