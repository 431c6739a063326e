//! The web console over plain HTTP: the session cookie, the one-time link, every page refusing without
//! a session, every form refusing without its CSRF token, no secret in any page, and "Export as TOML"
//! storing what was stored. The browser tests are in `console_browser.rs`.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;

use ferry_shared::definitions::latest_integration;
use ferry_shared::runs::Mode;
use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::helpers::{API_TOKEN, TestEnv};

/// A browser-less visitor: no redirects followed, cookies kept by hand.
pub struct Visitor {
    pub base: String,
    http: reqwest::Client,
    /// The `ferry_session` cookie's value once signed in.
    pub session: Option<String>,
}

/// The value of `name` among a response's `Set-Cookie` headers, with the whole header.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..].split(';').next().unwrap().to_string();
            (value, v.to_string())
        })
}

/// The value of the hidden `csrf` field of the first form in `html`.
pub fn csrf_in(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF field")
        + 19;
    html[at..].split('"').next().unwrap().to_string()
}

impl Visitor {
    pub fn new(base: &str) -> Visitor {
        Visitor {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            session: None,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(session) = &self.session {
            request = request.header("cookie", format!("ferry_session={session}"));
        }
        request.send().await.unwrap()
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(session) = &self.session {
            request = request.header("cookie", format!("ferry_session={session}"));
        }
        request.send().await.unwrap()
    }

    /// Signs in with `token` through the form; returns the answer to the POST.
    pub async fn sign_in_with(&mut self, token: &str) -> reqwest::Response {
        let form = self.get("/sign-in").await;
        assert_eq!(form.status(), StatusCode::OK);
        let (nonce, _) = set_cookie(&form, "ferry_sign_in").expect("the sign-in form's cookie");
        let csrf = csrf_in(&form.text().await.unwrap());
        let answer = self
            .http
            .post(format!("{}/sign-in", self.base))
            .header("cookie", format!("ferry_sign_in={nonce}"))
            .form(&[("csrf", csrf.as_str()), ("token", token), ("next", "/")])
            .send()
            .await
            .unwrap();
        if let Some((session, _)) = set_cookie(&answer, "ferry_session") {
            self.session = Some(session);
        }
        answer
    }

    pub async fn sign_in(&mut self) {
        let answer = self.sign_in_with(API_TOKEN).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert!(self.session.is_some());
    }
}

/// Same-site links of a page, without fragments; assets and the one-time link left out.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .map(|href| href.split('#').next().unwrap().to_string())
        .filter(|href| href.starts_with('/') && !href.starts_with("//"))
        .filter(|href| !href.starts_with("/assets/") && !href.starts_with("/sign-in"))
        .collect()
}

/// The `action` of every POST form of a page.
fn forms(html: &str) -> Vec<String> {
    html.split("<form")
        .skip(1)
        .filter(|tag| tag.split('>').next().unwrap().contains("method=\"post\""))
        .filter_map(|tag| tag.split("action=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// Every page reachable from `/`, and every form on them.
async fn crawl(visitor: &Visitor) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut pages = BTreeSet::new();
    let mut actions = BTreeSet::new();
    let mut todo = VecDeque::from(["/".to_string()]);
    while let Some(path) = todo.pop_front() {
        assert!(
            pages.len() < 200,
            "the crawl found more pages than it reads: {pages:?}"
        );
        if !pages.insert(path.clone()) {
            continue;
        }
        let response = visitor.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        if !kind.starts_with("text/html") {
            continue;
        }
        let html = response.text().await.unwrap();
        for link in links(&html) {
            // One page of each run and each preview filter is enough.
            if !pages.contains(&link) {
                todo.push_back(link);
            }
        }
        actions.extend(forms(&html));
    }
    (pages, actions)
}

const NARROW: &str = r#"
[[integration]]
name = "narrow"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "narrow", key = ["no"] }
fields = [{ from = "No", to = "no" }, { from = "Name", to = "name" }]
"#;

/// A world with runs, failed records and drift to show: customers imported, `narrow` partly failed.
async fn populated() -> (TestEnv, String) {
    let mut env = TestEnv::start(40, 1).await;
    env.execute("CREATE TABLE narrow (no varchar(20) PRIMARY KEY, name varchar(8))")
        .await;
    env.apply(&env.write_definitions(NARROW)).await;
    let customers = env.run("customers", Mode::Incremental).await;
    assert_eq!(customers.status, "succeeded");
    let narrow = env.run("narrow", Mode::Incremental).await;
    assert_eq!(narrow.status, "partial");
    // A client secret stored (sealed) for the connection, which no page may show.
    ferry_scheduler::cli::connection::set_secret(
        &env.credentials(),
        "bc",
        &secrecy::SecretString::from(ferry_sandbox::routes::identity::CLIENT_SECRET.to_string()),
    )
    .await
    .unwrap();
    let base = env.start_scheduler().await;
    (env, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_refuses_without_a_session_and_every_form_without_its_csrf_token() {
    let (env, base) = populated().await;
    let mut visitor = Visitor::new(&base);
    visitor.sign_in().await;
    let (pages, mut actions) = crawl(&visitor).await;
    for wanted in [
        "/",
        "/runs",
        "/queue",
        "/connections",
        "/conflicts",
        "/integrations/customers",
    ] {
        assert!(pages.contains(wanted), "{wanted} not reached: {pages:?}");
    }
    assert!(pages.iter().any(|p| p.starts_with("/runs/")), "{pages:?}");
    assert!(pages.contains("/integrations/narrow/preview"), "{pages:?}");
    assert!(
        pages.contains("/connections") && pages.contains("/integrations/new"),
        "{pages:?}"
    );
    let stored_secret = env
        .count("SELECT count(*) FROM ferry_credentials WHERE connection = 'bc' AND kind = 'client_secret'")
        .await;
    assert_eq!(stored_secret, 1);
    // Forms that need a state the crawl did not meet: the guard refuses before any handler, so
    // an id that does not exist is refused the same way.
    actions.extend([
        "/conflicts/1/resolve".to_string(),
        "/runs/1/cancel".to_string(),
    ]);
    for wanted in [
        "/integrations/customers/run",
        "/integrations/customers/check",
        "/sign-out",
    ] {
        assert!(actions.contains(wanted), "{wanted} not found: {actions:?}");
    }
    assert!(
        actions.iter().any(|a| a.ends_with("/replay")),
        "{actions:?}"
    );

    let stranger = Visitor::new(&base);
    let mut forged = Visitor::new(&base);
    forged.session = Some(format!(
        "{}.{}.{}",
        chrono::Utc::now().timestamp() + 3600,
        "0".repeat(32),
        "0".repeat(64)
    ));
    for page in &pages {
        for visitor in [&stranger, &forged] {
            let answer = visitor.get(page).await;
            assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{page}");
            let location = answer.headers()["location"].to_str().unwrap();
            assert!(location.starts_with("/sign-in?next="), "{page}: {location}");
            assert!(answer.text().await.unwrap().is_empty(), "{page}");
        }
    }

    // The other session's token, for the wrong-token case.
    let mut other = Visitor::new(&base);
    other.sign_in().await;
    let others_csrf = csrf_in(&other.get("/").await.text().await.unwrap());
    let own_csrf = csrf_in(&visitor.get("/").await.text().await.unwrap());
    assert_ne!(own_csrf, others_csrf);
    let runs_before = env.count("SELECT count(*) FROM ferry_runs").await;
    for action in &actions {
        for (who, form) in [
            (&visitor, vec![("mode", "full")]),
            (
                &visitor,
                vec![("csrf", others_csrf.as_str()), ("keep", "local")],
            ),
            (&visitor, vec![("csrf", ""), ("keep", "local")]),
            (&stranger, vec![("csrf", own_csrf.as_str())]),
            (&forged, vec![("csrf", own_csrf.as_str())]),
        ] {
            let answer = who.post(action, &form).await;
            assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{action} {form:?}");
        }
    }
    assert_eq!(
        env.count("SELECT count(*) FROM ferry_runs").await,
        runs_before,
        "a refused form started a run"
    );

    // With its token a form works: a run is triggered and its page shown.
    let answer = visitor
        .post(
            "/integrations/customers/run",
            &[("csrf", own_csrf.as_str()), ("mode", "incremental")],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert!(
        answer.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/runs/")
    );
    assert_eq!(
        env.count("SELECT count(*) FROM ferry_runs").await,
        runs_before + 1
    );

    // No page holds a secret: not the API token, not the client secret stored for the connection.
    for page in &pages {
        let answer = visitor.get(page).await;
        let csp = answer.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("frame-ancestors 'none'"), "{page}");
        let html = answer.text().await.unwrap();
        assert!(!html.contains(API_TOKEN), "{page} shows the API token");
        assert!(
            !html.contains(ferry_sandbox::routes::identity::CLIENT_SECRET),
            "{page} shows the client secret"
        );
    }
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sets_a_strict_cookie_a_link_works_once_and_sign_out_ends_the_session() {
    let mut env = TestEnv::without_worker(1, 1).await;
    let base = env.start_scheduler().await;

    let mut visitor = Visitor::new(&base);
    let wrong = visitor.sign_in_with("not-the-token").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&wrong, "ferry_session").is_none());
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("That is not the API token.")
    );

    let good = visitor.sign_in_with(API_TOKEN).await;
    assert_eq!(good.status(), StatusCode::SEE_OTHER);
    let (_, header) = set_cookie(&good, "ferry_session").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(header.contains(flag), "{header}");
    }
    assert!(
        !header.contains("Secure"),
        "plain HTTP on loopback: {header}"
    );
    assert_eq!(visitor.get("/").await.status(), StatusCode::OK);

    // The sign-in form's own token is needed too.
    let bare = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let no_csrf = bare
        .post(format!("{base}/sign-in"))
        .form(&[("token", API_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&no_csrf, "ferry_session").is_none());

    // Signing out refuses the old cookie from then on.
    let html = visitor.get("/").await.text().await.unwrap();
    let out = visitor
        .post("/sign-out", &[("csrf", &csrf_in(&html))])
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(visitor.get("/").await.status(), StatusCode::SEE_OTHER);

    // A one-time link signs in once.
    let link = ferry_scheduler::console::sign_in_link(&env.settings, &base).unwrap();
    let path = link.strip_prefix(&base).unwrap();
    let stranger = Visitor::new(&base);
    let first = stranger.get(path).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let (session, _) = set_cookie(&first, "ferry_session").unwrap();
    let mut linked = Visitor::new(&base);
    linked.session = Some(session);
    assert_eq!(linked.get("/queue").await.status(), StatusCode::OK);
    let again = stranger.get(path).await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&again, "ferry_session").is_none());

    // Behind an HTTPS proxy the cookie is Secure.
    let proxied = visitor
        .http
        .get(format!("{base}{path}"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), StatusCode::FORBIDDEN, "used already");
    let fresh = ferry_scheduler::console::sign_in_link(&env.settings, &base).unwrap();
    let proxied = visitor
        .http
        .get(&fresh)
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let (_, header) = set_cookie(&proxied, "ferry_session").unwrap();
    assert!(header.contains("; Secure"), "{header}");
    env.finish().await;
}

/// Every example's integrations, exported from the console, apply as exactly what was stored: no new
/// version, the same definition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_as_toml_stores_what_was_stored_for_every_example() {
    let mut env = TestEnv::without_worker(1, 1).await;
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/examples");
    let applied = ferry_scheduler::cli::apply(&env.db, std::slice::from_ref(&examples))
        .await
        .unwrap()
        .expect("the examples apply");
    let names: Vec<String> = applied
        .iter()
        .filter(|a| a.kind == "integration")
        .map(|a| a.name.clone())
        .collect();
    assert!(names.len() >= 4, "{names:?}");
    let base = env.start_scheduler().await;
    let mut visitor = Visitor::new(&base);
    visitor.sign_in().await;
    for name in &names {
        let (version, stored) = latest_integration(&env.db, name).await.unwrap().unwrap();
        let answer = visitor
            .get(&format!("/integrations/{name}/definition.toml"))
            .await;
        assert_eq!(answer.status(), StatusCode::OK, "{name}");
        assert!(
            answer.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains(&format!("{name}.toml"))
        );
        let file = env.dir.join(format!("exported-{name}.toml"));
        std::fs::write(&file, answer.text().await.unwrap()).unwrap();
        let again = ferry_scheduler::cli::apply(&env.db, &[file])
            .await
            .unwrap()
            .expect("the export applies");
        assert_eq!(again.len(), 1, "{name}");
        assert_eq!(again[0].version, Some(version), "{name}: a new version");
        assert_eq!(
            format!("{:?}", again[0].outcome),
            "Unchanged",
            "{name}: {:?}",
            again[0].changes
        );
        let (_, after) = latest_integration(&env.db, name).await.unwrap().unwrap();
        assert_eq!(after, stored, "{name}");
    }

    // An exported file edited and applied with `ferry apply` shows in the console as its new version.
    let name = &names[0];
    let (version, _) = latest_integration(&env.db, name).await.unwrap().unwrap();
    let file = env.dir.join(format!("exported-{name}.toml"));
    let text = std::fs::read_to_string(&file).unwrap();
    let edited: String = text
        .lines()
        .filter(|l| !l.starts_with("schedule"))
        .map(|l| {
            if l.starts_with("name = ") {
                format!("{l}\nschedule = \"0 15 3 * * *\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&file, edited).unwrap();
    ferry_scheduler::cli::apply(&env.db, &[file])
        .await
        .unwrap()
        .expect("the edited file applies");
    let page = visitor
        .get(&format!("/integrations/{name}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("version {}", version + 1)), "{page}");
    assert!(page.contains("0 15 3 * * *"), "{page}");
    env.finish().await;
}

/// The editors never replace a definition they did not open: "new" with a stored name is refused, and
/// so is a save over a version stored after the editor opened it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_refuses_to_replace_an_existing_or_newer_definition() {
    let mut env = TestEnv::without_worker(5, 1).await;
    env.apply(&env.write_definitions("")).await;
    let base = env.start_scheduler().await;
    let mut visitor = Visitor::new(&base);
    visitor.sign_in().await;
    let csrf = csrf_in(&visitor.get("/").await.text().await.unwrap());

    // Auto-match into an existing table: by name, and only where the column can take the values.
    env.execute("CREATE TABLE typed (no text PRIMARY KEY, name boolean)")
        .await;
    let matched = visitor
        .get("/integrations/new?connection=bc&entity=RescoCustomer&table=typed")
        .await
        .text()
        .await
        .unwrap();
    let row = |field: &str| {
        let at = matched
            .find(&format!("aria-label=\"Map {field}\""))
            .unwrap_or_else(|| panic!("no row for {field}"));
        let start = matched[..at].rfind("<input").unwrap();
        matched[start..at + 40].to_string()
    };
    assert!(row("No").contains("checked"), "{}", row("No"));
    assert!(!row("Name").contains("checked"), "{}", row("Name"));
    assert!(
        !row("City").contains("checked"),
        "no column: {}",
        row("City")
    );
    assert_eq!(
        matched.matches("type differs").count(),
        1,
        "Name's boolean column"
    );

    let new_connection = visitor
        .post(
            "/connections",
            &[
                ("csrf", csrf.as_str()),
                ("name", "bc"),
                ("kind", "odata"),
                ("url", "http://127.0.0.1:1/odata"),
                ("flow", "none"),
            ],
        )
        .await;
    assert_eq!(new_connection.status(), StatusCode::OK);
    let page = new_connection.text().await.unwrap();
    assert!(
        page.contains("a connection named &quot;bc&quot; exists"),
        "{page}"
    );
    let (_, bc) = ferry_shared::definitions::stored_connection(&env.db, "bc")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::to_value(bc.kind).unwrap(),
        "business_central",
        "unchanged"
    );

    let new_integration = visitor
        .post(
            "/integrations",
            &[
                ("csrf", csrf.as_str()),
                ("name", "customers"),
                ("connection", "bc"),
                ("entity", "RescoCustomer"),
                ("direction", "import"),
                ("key", "No"),
                ("changes", "RowVersionNumber"),
                ("table", "other"),
                ("target_key", "no"),
                ("f0.from", "No"),
                ("f0.include", "on"),
                ("f0.to", "no"),
            ],
        )
        .await;
    let page = new_integration.text().await.unwrap();
    assert!(
        page.contains("an integration named &quot;customers&quot; exists"),
        "{page}"
    );

    // The editor opens version 1; `ferry apply` stores version 2; the editor's save is refused.
    let form = visitor
        .get("/integrations/customers/edit")
        .await
        .text()
        .await
        .unwrap();
    assert!(form.contains("name=\"version\" value=\"1\""), "{form}");
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "direction = \"import\"",
        "direction = \"import\"\nschedule = \"0 0 * * * *\"",
    );
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;
    let stale = visitor
        .post(
            "/integrations",
            &[
                ("csrf", csrf.as_str()),
                ("editing", "customers"),
                ("version", "1"),
                ("name", "customers"),
                ("connection", "bc"),
                ("entity", "RescoCustomer"),
                ("direction", "import"),
                ("key", "No"),
                ("changes", "RowVersionNumber"),
                ("table", "customer"),
                ("target_key", "bc_no"),
                ("f0.from", "No"),
                ("f0.include", "on"),
                ("f0.to", "bc_no"),
            ],
        )
        .await;
    let page = stale.text().await.unwrap();
    assert!(page.contains("it is version 2 now"), "{page}");
    let (version, def) = latest_integration(&env.db, "customers")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(version, 2);
    assert_eq!(def.schedule.as_deref(), Some("0 0 * * * *"));
    env.finish().await;
}
