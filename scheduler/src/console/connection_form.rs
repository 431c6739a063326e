//! Creating and editing a connection in the console, and testing it. A save goes through `ferry
//! apply`'s own function with the file the form stands for, so it is validated exactly as `apply`
//! validates (every error shown next to its field) and stored the same way. A client secret typed in
//! its password field is stored sealed (`ferry connection set-secret`) and never shown again.

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use ferry_shared::definitions::{
    AuthDef, AuthFlow, ConnectionDef, ConnectionKind, stored_connection,
};
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;

use super::layout::{self, Nav};
use super::{ConsoleError, Signed};
use crate::state::AppState;

/// The form's fields; every one optional so a half-filled form comes back with its errors.
#[derive(Debug, Default, Deserialize)]
pub struct ConnectionForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    flow: String,
    #[serde(default)]
    authority: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    token_url: String,
    #[serde(default)]
    device_authorization_url: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    client_secret_env: String,
    /// Typed in a password field; empty keeps what is stored.
    #[serde(default)]
    client_secret: String,
    /// Set when editing a stored connection.
    #[serde(default)]
    editing: Option<String>,
    /// The version the form opened, so a save over a newer one is refused rather than lost.
    #[serde(default)]
    version: Option<i32>,
}

fn some(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

impl ConnectionForm {
    fn from_def(def: &ConnectionDef, version: i32) -> ConnectionForm {
        let kind = serde_json::to_value(def.kind).unwrap_or_default();
        let flow = serde_json::to_value(def.auth.flow).unwrap_or_default();
        let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
        ConnectionForm {
            name: def.name.clone(),
            kind: kind.as_str().unwrap_or_default().into(),
            url: def.url.clone(),
            company: or_empty(&def.company),
            flow: flow.as_str().unwrap_or_default().into(),
            authority: or_empty(&def.auth.authority),
            tenant: or_empty(&def.auth.tenant),
            token_url: or_empty(&def.auth.token_url),
            device_authorization_url: or_empty(&def.auth.device_authorization_url),
            client_id: or_empty(&def.auth.client_id),
            scope: or_empty(&def.auth.scope),
            client_secret_env: or_empty(&def.auth.client_secret_env),
            client_secret: String::new(),
            editing: Some(def.name.clone()),
            version: Some(version),
        }
    }

    /// The definition the form stands for, on top of `base` (so settings the form does not show,
    /// such as timeouts, are kept). A kind or flow the form cannot name is left for `apply` to refuse.
    fn to_def(&self, base: Option<ConnectionDef>) -> Result<ConnectionDef, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let kind: Option<ConnectionKind> = serde_json::from_value(self.kind.clone().into()).ok();
        if kind.is_none() {
            errors.push((
                "kind".into(),
                "choose Business Central, Dataverse or OData".into(),
            ));
        }
        let flow: Option<AuthFlow> = serde_json::from_value(self.flow.clone().into()).ok();
        if flow.is_none() {
            errors.push(("auth.flow".into(), "choose how Ferry signs in".into()));
        }
        if some(&self.name).is_none() {
            errors.push(("name".into(), "a connection needs a name".into()));
        }
        let (Some(kind), Some(flow), Some(name)) = (kind, flow, some(&self.name)) else {
            return Err(errors);
        };
        let mut def = base.unwrap_or(ConnectionDef {
            name: name.clone(),
            kind,
            url: String::new(),
            company: None,
            auth: AuthDef {
                flow,
                authority: None,
                tenant: None,
                token_url: None,
                device_authorization_url: None,
                client_id: None,
                client_secret_env: None,
                scope: None,
            },
            timeout_secs: None,
            connect_timeout_secs: None,
            allow_http: false,
            budget: None,
        });
        def.name = name;
        def.kind = kind;
        def.url = self.url.trim().to_string();
        def.company = some(&self.company);
        def.auth.flow = flow;
        def.auth.authority = some(&self.authority);
        def.auth.tenant = some(&self.tenant);
        def.auth.token_url = some(&self.token_url);
        def.auth.device_authorization_url = some(&self.device_authorization_url);
        def.auth.client_id = some(&self.client_id);
        def.auth.scope = some(&self.scope);
        def.auth.client_secret_env = some(&self.client_secret_env);
        // A sandbox or a service on a private network may be plain HTTP; `apply` still refuses a
        // plain-HTTP address that is not loopback unless the stored definition allows it.
        Ok(def)
    }
}

/// The error of `field`, if any: `apply` names fields as `connection "x".auth.client_id`.
fn error_for<'e>(errors: &'e [(String, String)], field: &str) -> Option<&'e str> {
    errors
        .iter()
        .find(|(key, _)| key == field || key.ends_with(&format!(".{field}")))
        .map(|(_, message)| message.as_str())
}

fn input(
    errors: &[(String, String)],
    field: &str,
    id: &str,
    label: &str,
    value: &str,
    hint: Option<&str>,
) -> Markup {
    let error = error_for(errors, field);
    let described = match (error.is_some(), hint.is_some()) {
        (true, _) => Some(format!("{id}-error")),
        (false, true) => Some(format!("{id}-hint")),
        _ => None,
    };
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(id) value=(value) aria-invalid=[error.map(|_| "true")] aria-describedby=[described];
            @if let Some(error) = error { span.error id={ (id) "-error" } { (error) } }
            @else if let Some(hint) = hint { span.hint id={ (id) "-hint" } { (hint) } }
        }
    }
}

fn form_page(
    signed: &Signed,
    form: &ConnectionForm,
    errors: &[(String, String)],
    secret_stored: bool,
) -> Html<String> {
    let title = match &form.editing {
        Some(name) => format!("Edit connection {name}"),
        None => "New connection".to_string(),
    };
    let body = html! {
        h1 { (title) }
        (layout::problems(errors))
        form.editor method="post" action="/connections" {
            (layout::csrf(signed))
            @if let Some(name) = &form.editing {
                input type="hidden" name="editing" value=(name);
                @if let Some(version) = form.version { input type="hidden" name="version" value=(version); }
                input type="hidden" name="name" value=(name);
                div.field { label { "Name" } span { code { (name) } } }
            } @else {
                (input(errors, "name", "name", "Name", &form.name, Some("How integrations refer to it, e.g. bc")))
            }
            div.field {
                label for="kind" { "Kind" }
                select id="kind" name="kind" {
                    @for (value, text) in [("business_central", "Business Central"), ("dataverse", "Dataverse"), ("odata", "OData v4 service")] {
                        option value=(value) selected[form.kind == value] { (text) }
                    }
                }
                @if let Some(e) = error_for(errors, "kind") { span.error { (e) } }
            }
            (input(errors, "url", "url", "Service root", &form.url, Some("Business Central: …/api/PUBLISHER/GROUP/v2.0; Dataverse: https://ORG.crm.dynamics.com")))
            (input(errors, "company", "company", "Company (Business Central)", &form.company, None))
            fieldset {
                legend { "Sign-in" }
                div.field {
                    label for="flow" { "How Ferry signs in" }
                    select id="flow" name="flow" {
                        @for (value, text) in [("client_credentials", "Client credentials (an app registration)"), ("device_code", "Device code (a person signs in)"), ("none", "None")] {
                            option value=(value) selected[form.flow == value] { (text) }
                        }
                    }
                    @if let Some(e) = error_for(errors, "flow") { span.error { (e) } }
                }
                (input(errors, "authority", "authority", "Authority", &form.authority, Some("Leave empty for Microsoft's sign-in (login.microsoftonline.com)")))
                (input(errors, "tenant", "tenant", "Tenant", &form.tenant, None))
                (input(errors, "client_id", "client_id", "Client id", &form.client_id, None))
                (input(errors, "scope", "scope", "Scope", &form.scope, None))
                (input(errors, "token_url", "token_url", "Token endpoint (any OAuth 2.0 server)", &form.token_url, None))
                (input(errors, "device_authorization_url", "device_authorization_url", "Device authorization endpoint", &form.device_authorization_url, None))
                div.field {
                    label for="client_secret" { "Client secret" }
                    input id="client_secret" name="client_secret" type="password" autocomplete="new-password"
                        aria-describedby="client_secret-hint";
                    span.hint id="client_secret-hint" {
                        @if secret_stored { "Set (stored sealed). Type a new one to replace it; leave empty to keep it." }
                        @else { "Stored sealed with the master key; never shown again. Or name a variable below." }
                    }
                }
                (input(errors, "client_secret_env", "client_secret_env", "…or read it from the variable", &form.client_secret_env, None))
            }
            div.actions { button type="submit" { "Save connection" } a.button.secondary href="/connections" { "Cancel" } }
        }
    };
    layout::page(signed, Nav::Connections, &title, None, body)
}

/// `GET /connections/new`.
pub async fn new(Extension(signed): Extension<Signed>) -> Html<String> {
    let form = ConnectionForm {
        kind: "business_central".into(),
        flow: "client_credentials".into(),
        scope: "https://api.businesscentral.dynamics.com/.default".into(),
        ..ConnectionForm::default()
    };
    form_page(&signed, &form, &[], false)
}

async fn secret_stored(state: &AppState, name: &str) -> Result<bool, ConsoleError> {
    let kinds = ferry_shared::secrets::stored_kinds(&state.db, name)
        .await
        .map_err(ConsoleError::internal)?;
    Ok(kinds.contains(&ferry_shared::secrets::CredentialKind::ClientSecret))
}

/// `GET /connections/{name}/edit`.
pub async fn edit(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    let (version, def) = stored_connection(&state.db, &name)
        .await
        .map_err(ConsoleError::internal)?
        .ok_or_else(|| ConsoleError::NotFound(format!("no connection named {name:?} is stored")))?;
    let stored = secret_stored(&state, &name).await?;
    Ok(form_page(
        &signed,
        &ConnectionForm::from_def(&def, version),
        &[],
        stored,
    ))
}

/// `POST /connections`: validated and stored by `ferry apply`'s function; the secret, when typed,
/// sealed after the definition is stored.
pub async fn save(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Form(form): Form<ConnectionForm>,
) -> Result<Response, ConsoleError> {
    let stored = match &form.editing {
        Some(name) => secret_stored(&state, name).await?,
        None => false,
    };
    // A new connection must not take an existing one's name (it would replace it), and an edit must
    // start from the version stored now (a save or `ferry apply` since would otherwise be undone).
    let name = form
        .editing
        .clone()
        .unwrap_or_else(|| form.name.trim().to_string());
    let current = stored_connection(&state.db, &name)
        .await
        .map_err(ConsoleError::internal)?;
    let base = match (&form.editing, current) {
        (None, Some(_)) => {
            let refusal = (
                "name".to_string(),
                format!("a connection named {name:?} exists: choose Edit on it"),
            );
            return Ok(form_page(&signed, &form, &[refusal], stored).into_response());
        }
        (None, None) => None,
        (Some(_), Some((version, def))) if Some(version) == form.version => Some(def),
        (Some(_), Some((version, _))) => {
            let refusal = (
                "version".to_string(),
                format!(
                    "{name} changed since this form opened it (it is version {version} now): open Edit again"
                ),
            );
            return Ok(form_page(&signed, &form, &[refusal], stored).into_response());
        }
        (Some(_), None) => {
            return Err(ConsoleError::NotFound(format!(
                "no connection named {name:?} is stored"
            )));
        }
    };
    let def = match form.to_def(base) {
        Ok(def) => def,
        Err(errors) => return Ok(form_page(&signed, &form, &errors, stored).into_response()),
    };
    let text = crate::cli::connections::to_toml(&def).map_err(ConsoleError::internal)?;
    let applied = super::apply_text::apply_text(&state, &text).await?;
    if let Err(errors) = applied {
        return Ok(form_page(&signed, &form, &errors, stored).into_response());
    }
    if !form.client_secret.is_empty() {
        let credentials = state.credentials().map_err(ConsoleError::internal)?;
        crate::cli::connection::set_secret(
            &credentials,
            &def.name,
            &SecretString::from(form.client_secret.clone()),
        )
        .await
        .map_err(|e| ConsoleError::Refused(format!("the secret was not stored: {e}")))?;
    }
    Ok(Redirect::to(&format!(
        "/connections?notice=saved#connection-{}",
        def.name
    ))
    .into_response())
}

/// `POST /connections/{name}/test`: signs in and reads `$metadata`, as `ferry discover` does.
pub async fn test(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    let checker = super::integration::checker(&state)?;
    let result = checker.metadata(&name).await;
    let body = html! {
        h1 { "Test of " (name) }
        @match &result {
            Ok(metadata) => p.notice.good role="status" {
                "Signed in and read the service's $metadata: " (metadata.sets.len()) " entity set(s)."
            },
            Err(error) => p.notice.bad role="alert" { "The connection does not work: " (error) },
        }
        p { a href="/connections" { "Back to the connections" } }
    };
    Ok(layout::page(
        &signed,
        Nav::Connections,
        &format!("Test of {name}"),
        None,
        body,
    ))
}
