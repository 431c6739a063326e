//! The page shell every console page shares (head, navigation, sign-out) and the small pieces pages
//! repeat: a run's status badge, times, counts, a form's CSRF field.

use axum::response::Html;
use chrono::{DateTime, FixedOffset, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::Signed;

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Integrations,
    Runs,
    Queue,
    Connections,
    Conflicts,
}

const SECTIONS: [(Nav, &str, &str); 5] = [
    (Nav::Integrations, "/", "Integrations"),
    (Nav::Runs, "/runs", "Runs"),
    (Nav::Queue, "/queue", "Queue"),
    (Nav::Connections, "/connections", "Connections"),
    (Nav::Conflicts, "/conflicts", "Conflicts"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Ferry" }
            link rel="stylesheet" href="/assets/console.css";
            script src="/assets/console.js" defer {}
        }
    }
}

/// A signed-in page. `live` makes the script refresh the page's main part every that many seconds
/// (without script, the page is read as it was served).
pub fn page(
    signed: &Signed,
    active: Nav,
    title: &str,
    live: Option<u32>,
    body: Markup,
) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "Ferry" }
                    nav aria-label="Sections" {
                        ul {
                            @for (nav, href, label) in SECTIONS {
                                li {
                                    @if nav == active {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form.sign-out method="post" action="/sign-out" {
                        (csrf(signed))
                        button.link type="submit" { "Sign out" }
                    }
                }
                main id="main" data-live=[live] {
                    (body)
                }
            }
        }
    };
    Html(markup.into_string())
}

/// A page outside the signed-in shell (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                header.top { a.brand href="/" { "Ferry" } }
                main id="main" { (body) }
            }
        }
    };
    Html(markup.into_string())
}

/// The hidden field every form carries.
pub fn csrf(signed: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.csrf); }
}

/// A run's status as a badge whose colour says how it went.
pub fn status(status: &str) -> Markup {
    let tone = match status {
        "succeeded" => "good",
        "partial" | "retrying" | "cancelling" => "warn",
        "failed" | "cancelled" => "bad",
        "running" | "queued" => "busy",
        _ => "plain",
    };
    html! { span class={ "badge " (tone) } { (status) } }
}

/// A moment, shown relative to now, with the exact time on hover and in the markup.
pub fn when(at: &DateTime<FixedOffset>) -> Markup {
    let exact = at
        .with_timezone(&Utc)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    html! { time datetime=(at.to_rfc3339()) title=(exact) { (ago(at)) } }
}

/// "just now", "12 s ago", "5 min ago", "3 h ago", "2 days ago"; "in 4 min" for the future.
pub fn ago(at: &DateTime<FixedOffset>) -> String {
    let secs = (Utc::now() - at.with_timezone(&Utc)).num_seconds();
    let (future, secs) = (secs < 0, secs.abs());
    let span = match secs {
        0..=4 => return "just now".into(),
        5..=119 => format!("{secs} s"),
        120..=7_199 => format!("{} min", secs / 60),
        7_200..=172_799 => format!("{} h", secs / 3_600),
        _ => format!("{} days", secs / 86_400),
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// A count with thousands separated: 1 234 567 (a thin space, read the same in every locale).
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A duration in milliseconds as "850 ms", "12.4 s", "3 min 5 s".
pub fn duration(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1_000),
    }
}

/// JSON, indented, for a `<pre>`.
pub fn json(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A value of a record cell: JSON text without the quotes of a string, `∅` for null.
pub fn cell(value: &serde_json::Value) -> Markup {
    match value {
        serde_json::Value::Null => html! { span.null title="null" { "∅" } },
        serde_json::Value::String(s) => html! { (s) },
        other => html! { (other.to_string()) },
    }
}

/// What `apply` refused in a form, every problem listed (each is also shown by its field, where the
/// form has one), so none can go unseen.
pub fn problems(errors: &[(String, String)]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.notice.bad role="alert" {
                "Not saved: " (errors.len()) " problem(s)."
                ul { @for (key, message) in errors { li { code { (key) } ": " (message) } } }
            }
        }
    }
}

/// The `?notice=` a page is redirected to after an action.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Notice {
    #[serde(default)]
    pub notice: Option<String>,
}

/// A notice after an action, chosen by code so no request text is ever echoed into the page.
pub fn notice(code: Option<&str>) -> Markup {
    let text = match code {
        Some("cleaned") => "Stored a new version without the fields that are gone.",
        Some("nothing-to-clean") => "No mapped source field is gone; nothing was stored.",
        Some("resolved") => "Conflict resolved.",
        Some("saved") => "Connection saved.",
        Some("saved-integration") => {
            "Saved as a new version, validated as `ferry apply` validates."
        }
        Some("signed-out") => "Signed out: the stored sign-in is removed.",
        Some("cancelling") => "Cancel requested: the run stops after its current page.",
        _ => return PreEscaped(String::new()),
    };
    html! { p.notice.good role="status" { (text) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_durations_read_as_an_operator_expects() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1\u{202f}000");
        assert_eq!(count(-1_234_567), "-1\u{202f}234\u{202f}567");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_400), "12.4 s");
        assert_eq!(duration(185_000), "3 min 5 s");
    }
}
