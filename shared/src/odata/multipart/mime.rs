//! Reading a `multipart/mixed` batch answer (OData 4.0, part 1, 11.7.4) into the `application/http`
//! replies it carries, change sets flattened in place. Written to take what services send, not just
//! what the sandbox sends: CRLF or bare LF, header names in any case, a preamble and an epilogue,
//! boundaries quoted or not, folded header lines, a `Content-ID` on the part or inside the reply.
//! What it refuses is what cannot be trusted: a body cut short (no closing delimiter), a part that
//! is not an HTTP reply, a status line without a status, more replies than were asked for.

/// One reply as the service wrote it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reply {
    /// The part's `Content-ID` (or the reply's own, where some services put it): which request it
    /// answers, when the service says.
    pub content_id: Option<String>,
    pub status: u16,
    /// Names lower-cased: header names are case-insensitive.
    pub headers: Vec<(String, String)>,
    /// As sent, without the line break that belongs to the next delimiter.
    pub body: String,
}

impl Reply {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// Change sets nest once inside a batch; deeper is not OData and is refused rather than followed.
const MAX_DEPTH: usize = 1;

/// The replies in `body`, a `multipart/mixed` answer whose `Content-Type` is `content_type`. At most
/// `max` replies are read: a batch never has more answers than requests, and a body of many tiny
/// parts must not grow into a long list first.
pub(super) fn replies(content_type: &str, body: &str, max: usize) -> Result<Vec<Reply>, String> {
    let boundary = boundary(content_type).ok_or_else(|| {
        format!(
            "the batch answer is {:?}, not multipart/mixed with a boundary",
            crate::printable::printable(&content_type.chars().take(100).collect::<String>())
        )
    })?;
    let mut out = Vec::new();
    collect(body, &boundary, 0, max, &mut out)?;
    Ok(out)
}

/// The replies inside one multipart body (the batch, or a change set at `depth` 1), appended to `out`.
fn collect(
    body: &str,
    boundary: &str,
    depth: usize,
    max: usize,
    out: &mut Vec<Reply>,
) -> Result<(), String> {
    for part in split(body, boundary)? {
        let (headers, rest) = head(part);
        let content_type = header(&headers, "content-type").unwrap_or("");
        if content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/")
        {
            if depth >= MAX_DEPTH {
                return Err("a change set inside a change set: not an OData batch answer".into());
            }
            let inner = boundary_of(content_type)
                .ok_or_else(|| "a change set answer without a boundary".to_string())?;
            collect(rest, &inner, depth + 1, max, out)?;
            continue;
        }
        if out.len() == max {
            return Err(format!(
                "the batch answer has more replies than the {max} requests sent"
            ));
        }
        out.push(reply(header(&headers, "content-id"), rest)?);
    }
    Ok(())
}

/// The `boundary` of a `multipart/mixed` content type.
fn boundary(content_type: &str) -> Option<String> {
    let lower = content_type.trim_start().to_ascii_lowercase();
    if !lower.starts_with("multipart/mixed") {
        return None;
    }
    boundary_of(content_type)
}

/// The `boundary` parameter of a content type, unquoted. RFC 2046 allows at most 70 characters.
fn boundary_of(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

/// The parts between `--boundary` lines, the preamble and epilogue left out. A delimiter is a line
/// of its own (trailing whitespace allowed); the line break before it belongs to it, not to the part.
fn split<'a>(body: &'a str, boundary: &str) -> Result<Vec<&'a str>, String> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start = None;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        let Some(rest) = line.trim_end().strip_prefix(&delimiter) else {
            continue;
        };
        let closing = match rest {
            "" => false,
            "--" => true,
            _ => continue,
        };
        if let Some(start) = start {
            parts.push(without_line_break(&body[start..line_start]));
        }
        if closing {
            return Ok(parts);
        }
        start = Some(offset);
    }
    Err(format!(
        "the batch answer ends before its closing --{}--: it was cut short",
        crate::printable::printable(boundary)
    ))
}

fn without_line_break(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

/// Header lines up to the first blank line, and what follows it. A line that starts with
/// whitespace continues the header before it (RFC 5322 folding).
fn head(text: &str) -> (Vec<(String, String)>, &str) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        offset += line.len();
        let content = line.trim_end_matches(['\r', '\n']);
        if content.trim().is_empty() {
            return (headers, &text[offset..]);
        }
        if content.starts_with([' ', '\t'])
            && let Some((_, value)) = headers.last_mut()
        {
            value.push(' ');
            value.push_str(content.trim());
        } else if let Some((name, value)) = content.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    (headers, "")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// An `application/http` part's content: `HTTP/1.1 204 No Content`, headers, a blank line, a body.
fn reply(part_content_id: Option<&str>, text: &str) -> Result<Reply, String> {
    let text = text.trim_start_matches(['\r', '\n']);
    let (line, rest) = text.split_once('\n').unwrap_or((text, ""));
    let line = line.trim_end();
    let status = status(line).ok_or_else(|| {
        format!(
            "a batch part is not an HTTP reply: it starts {:?}",
            crate::printable::printable(&line.chars().take(60).collect::<String>())
        )
    })?;
    let (headers, body) = head(rest);
    let content_id = part_content_id
        .or_else(|| header(&headers, "content-id"))
        .map(str::to_string);
    Ok(Reply {
        content_id,
        status,
        headers,
        body: without_line_break(body).to_string(),
    })
}

/// The status of `HTTP/1.1 204 No Content` (the reason phrase may be missing).
fn status(line: &str) -> Option<u16> {
    let mut words = line.split_whitespace();
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    let code = words.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok().filter(|s| (100..600).contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_read_quoted_or_not_in_any_case() {
        assert_eq!(
            boundary("multipart/mixed; boundary=batchresponse_1").as_deref(),
            Some("batchresponse_1")
        );
        assert_eq!(
            boundary("Multipart/Mixed;charset=utf-8; BOUNDARY=\"b(1)\"").as_deref(),
            Some("b(1)")
        );
        assert_eq!(boundary("application/json; boundary=x"), None);
        assert_eq!(boundary("multipart/mixed"), None);
    }

    #[test]
    fn parts_come_without_preamble_epilogue_or_the_delimiters_line_break() {
        let body = "preamble\r\n--b\r\nfirst\r\n--b  \r\nsecond\n\n--b--\r\nepilogue\r\n--b\r\n";
        assert_eq!(split(body, "b").unwrap(), ["first", "second\n"]);
        // A line that only starts like the delimiter is content.
        assert_eq!(split("--b\nx\n--bb\n--b--", "b").unwrap(), ["x\n--bb"]);
    }

    #[test]
    fn a_body_without_its_closing_delimiter_was_cut_short() {
        let error = split("--b\r\nHTTP/1.1 204 No Content\r\n", "b").unwrap_err();
        assert!(error.contains("cut short"), "{error}");
    }

    #[test]
    fn folded_headers_are_joined_and_names_lower_cased() {
        let (headers, rest) = head("ETag: W/\"1\"\r\nX-Long: a\r\n  b\r\n\r\nbody");
        assert_eq!(
            headers,
            [
                ("etag".to_string(), "W/\"1\"".to_string()),
                ("x-long".to_string(), "a b".to_string())
            ]
        );
        assert_eq!(rest, "body");
    }

    #[test]
    fn status_lines_need_a_three_digit_status() {
        assert_eq!(status("HTTP/1.1 204 No Content"), Some(204));
        assert_eq!(status("HTTP/1.1 412"), Some(412));
        for bad in [
            "",
            "HTTP/1.1",
            "HTTP/1.1 OK",
            "HTTP/1.1 2040",
            "PATCH x HTTP/1.1",
        ] {
            assert_eq!(status(bad), None, "{bad}");
        }
    }

    #[test]
    fn more_replies_than_requests_are_refused_as_they_come() {
        let part =
            "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n";
        let body = format!("{part}{part}{part}--b--\r\n");
        assert_eq!(
            replies("multipart/mixed; boundary=b", &body, 3)
                .unwrap()
                .len(),
            3
        );
        let error = replies("multipart/mixed; boundary=b", &body, 2).unwrap_err();
        assert!(error.contains("more replies"), "{error}");
    }

    #[test]
    fn change_sets_nest_once() {
        let body = "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n--d--\r\n--c--\r\n--b--\r\n";
        let error = replies("multipart/mixed; boundary=b", body, 5).unwrap_err();
        assert!(error.contains("inside a change set"), "{error}");
    }
}
