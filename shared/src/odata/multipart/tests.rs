//! Encoding a batch, and reading answers shaped like the ones in "Execute batch operations using
//! the Web API" and "Perform conditional operations".

use serde_json::json;
use serde_json::value::RawValue;
use url::Url;

use super::*;

const ROOT: &str = "https://org.crm.dynamics.com/api/data/v9.2/";
const ID: &str = "00000000-0000-4000-8000-000000000001";

fn op(
    method: &'static str,
    path: &str,
    headers: &[(&'static str, &str)],
    body: Option<&str>,
) -> Operation {
    Operation {
        id: path.to_string(),
        method,
        url: Url::parse(&format!("{ROOT}{path}")).unwrap(),
        headers: headers.iter().map(|(n, v)| (*n, v.to_string())).collect(),
        body: body.map(|b| RawValue::from_string(b.to_string()).unwrap()),
    }
}

#[test]
fn each_operation_is_its_own_http_part_with_its_headers_and_body() {
    let operations = [
        op(
            "PATCH",
            &format!("accounts({ID})"),
            &[("If-None-Match", "*")],
            Some(r#"{"name":"Fourth Coffee"}"#),
        ),
        op("DELETE", "accounts(x)", &[("If-Match", "W/\"7\"")], None),
    ];
    let body = encode(&operations, "batch_B").unwrap();
    let expected = format!(
        "--batch_B\r\n\
         Content-Type: application/http\r\n\
         Content-Transfer-Encoding: binary\r\n\
         Content-ID: 1\r\n\
         \r\n\
         PATCH {ROOT}accounts({ID}) HTTP/1.1\r\n\
         If-None-Match: *\r\n\
         Content-Type: application/json; type=entry\r\n\
         Content-Length: 24\r\n\
         \r\n\
         {{\"name\":\"Fourth Coffee\"}}\r\n\
         --batch_B\r\n\
         Content-Type: application/http\r\n\
         Content-Transfer-Encoding: binary\r\n\
         Content-ID: 2\r\n\
         \r\n\
         DELETE {ROOT}accounts(x) HTTP/1.1\r\n\
         If-Match: W/\"7\"\r\n\
         \r\n\
         \r\n\
         --batch_B--\r\n"
    );
    assert_eq!(body, expected);
    assert!(!body.contains("changeset"), "no change sets");
}

#[test]
fn what_could_break_out_of_its_part_is_refused() {
    let injected = op(
        "DELETE",
        "accounts(x)",
        &[("If-Match", "*\r\nX-Evil: 1")],
        None,
    );
    let error = encode(&[injected], "batch_B").unwrap_err();
    assert!(error.contains("If-Match"), "{error}");
    // JSON cannot hold a raw line break in a string, but the boundary text alone is refused too.
    let sneaky = op("POST", "accounts", &[], Some(r#"{"name":"--batch_B"}"#));
    assert!(
        encode(&[sneaky], "batch_B")
            .unwrap_err()
            .contains("boundary")
    );
}

/// An answer body with CRLF line endings from lines written with `\n`.
fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

const CONTENT_TYPE: &str = "multipart/mixed; boundary=batchresponse_1d2c";

#[test]
fn a_create_answered_204_carries_its_address_and_no_body() {
    let body = crlf(&format!(
        "--batchresponse_1d2c
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: {ROOT}accounts({ID})
OData-EntityId: {ROOT}accounts({ID})

--batchresponse_1d2c--
"
    ));
    let answers = decode(CONTENT_TYPE, body.as_bytes(), 1, true).unwrap();
    assert_eq!(
        answers,
        [Answer {
            status: 204,
            etag: None,
            entity_id: Some(format!("{ROOT}accounts({ID})")),
            body: Value::Null,
        }]
    );
}

#[test]
fn refusals_keep_the_services_code_and_words() {
    let body = crlf(&format!(
        r#"--batchresponse_1d2c
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 400 Bad Request
REQ_ID: 5ae5a4a2-6d40-4ba8-9f7c-7dcd0d2a1b4e
Content-Type: application/json; odata.metadata=minimal
OData-Version: 4.0

{{"error":{{"code":"0x80044331","message":"A validation error occurred. The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'."}}}}
--batchresponse_1d2c
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 412 Precondition Failed
Content-Type: application/json; odata.metadata=minimal
OData-Version: 4.0

{{"error":{{"code":"0x80040237","message":"A record with matching key values already exists."}}}}
--batchresponse_1d2c
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 200 OK
Content-Type: application/json; odata.metadata=minimal
ETag: W/"1200"

{{"@odata.context":"{ROOT}$metadata#accounts/$entity","@odata.etag":"W/\"1199\"","accountid":"{ID}"}}
--batchresponse_1d2c
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 201 Created
Content-Type: application/json; odata.metadata=minimal

{{"@odata.etag":"W/\"1201\"","accountid":"{ID}"}}
--batchresponse_1d2c--
"#
    ));
    let answers = decode(CONTENT_TYPE, body.as_bytes(), 4, true).unwrap();
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [400, 412, 200, 201]);
    assert_eq!(
        answers[0].error_message(),
        "0x80044331: A validation error occurred. The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'."
    );
    assert_eq!(
        answers[1].error_message(),
        "0x80040237: A record with matching key values already exists."
    );
    assert_eq!(
        answers[2].etag.as_deref(),
        Some("W/\"1200\""),
        "the header before the body"
    );
    assert_eq!(
        answers[3].etag.as_deref(),
        Some("W/\"1201\""),
        "else the body's"
    );
    assert_eq!(answers[3].body["accountid"], ID);
}

/// A change set answered as a nested multipart (Content-IDs inside, in the order the service chose),
/// then a request outside it.
#[test]
fn a_change_set_answer_is_read_in_place_and_matched_by_content_id() {
    let body = crlf(&format!(
        "--batchresponse_1d2c
Content-Type: multipart/mixed; boundary=changesetresponse_9f

--changesetresponse_9f
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

HTTP/1.1 204 No Content
OData-EntityId: {ROOT}tasks(2)

--changesetresponse_9f
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

HTTP/1.1 204 No Content
OData-EntityId: {ROOT}tasks(1)

--changesetresponse_9f--
--batchresponse_1d2c
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 404 Not Found
Content-Type: application/json

{{\"error\":{{\"code\":\"0x80040217\",\"message\":\"Entity 'account' With Id = {ID} Does Not Exist\"}}}}
--batchresponse_1d2c--
"
    ));
    let answers = decode(CONTENT_TYPE, body.as_bytes(), 3, true).unwrap();
    let ids: Vec<Option<&str>> = answers.iter().map(|a| a.entity_id.as_deref()).collect();
    assert_eq!(
        ids,
        [
            Some(format!("{ROOT}tasks(1)").as_str()),
            Some(format!("{ROOT}tasks(2)").as_str()),
            None
        ]
    );
    assert_eq!(answers[2].status, 404);
}

#[test]
fn lf_endings_any_header_case_a_preamble_and_an_epilogue_are_read() {
    let body = "This is a preamble a MIME reader skips.
--batchresponse_1d2c
content-type: application/http

HTTP/1.1 204 No Content
odata-entityid: e1
ETAG: W/\"5\"

--batchresponse_1d2c
CONTENT-TYPE: application/http

HTTP/1.1 204
--batchresponse_1d2c--
and an epilogue.
";
    let answers = decode(
        "Multipart/Mixed; Boundary=\"batchresponse_1d2c\"",
        body.as_bytes(),
        2,
        false,
    )
    .unwrap();
    assert_eq!(answers[0].entity_id.as_deref(), Some("e1"));
    assert_eq!(answers[0].etag.as_deref(), Some("W/\"5\""));
    assert_eq!(answers[1].status, 204);
    assert_eq!(answers[1].body, Value::Null);
}

fn part(status: &str) -> String {
    crlf(&format!(
        "--batchresponse_1d2c\nContent-Type: application/http\n\nHTTP/1.1 {status}\nContent-Type: application/json\n\n{{\"error\":{{\"code\":\"0x80040237\",\"message\":\"A record with matching key values already exists.\"}}}}\n"
    ))
}

#[test]
fn operations_after_a_stop_are_not_carried_out_never_successes() {
    let body = format!(
        "{}{}--batchresponse_1d2c--\r\n",
        part("204 No Content"),
        part("412 Precondition Failed")
    );
    let answers = decode(CONTENT_TYPE, body.as_bytes(), 4, false).unwrap();
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [204, 412, NOT_CARRIED_OUT, NOT_CARRIED_OUT]);
    assert_eq!(answers[2].etag, None);
    assert!(
        answers[3].error_message().contains("operation 2's failure"),
        "{}",
        answers[3].error_message()
    );

    // Asked to go on, the service owes every answer: a missing one is unknown, not skipped.
    let error = decode(CONTENT_TYPE, body.as_bytes(), 4, true).unwrap_err();
    assert!(error.contains("operation 3 of 4"), "{error}");
    // Nor does a stop explain a missing answer when nothing failed before it.
    let all_good = format!("{}--batchresponse_1d2c--\r\n", part("204 No Content"));
    let error = decode(CONTENT_TYPE, all_good.as_bytes(), 2, false).unwrap_err();
    assert!(error.contains("operation 2 of 2"), "{error}");
}

#[test]
fn content_ids_that_name_no_request_or_one_twice_are_refused() {
    let with_id = |id: &str| {
        crlf(&format!(
            "--batchresponse_1d2c\nContent-Type: application/http\nContent-ID: {id}\n\nHTTP/1.1 204 No Content\n\n"
        ))
    };
    for (ids, expected) in [
        (vec!["3"], "names no request"),
        (vec!["x"], "names no request"),
        (vec!["0"], "names no request"),
        (vec!["2", "2"], "two batch answers"),
    ] {
        let body: String =
            ids.iter().map(|id| with_id(id)).collect::<String>() + "--batchresponse_1d2c--\r\n";
        let error = decode(CONTENT_TYPE, body.as_bytes(), 2, true).unwrap_err();
        assert!(error.contains(expected), "{ids:?}: {error}");
    }
    // A Content-ID inside the reply counts as well (early OData clients put it there).
    let body = crlf(
        "--batchresponse_1d2c\nContent-Type: application/http\n\nHTTP/1.1 204 No Content\nContent-ID: 2\n\n--batchresponse_1d2c\nContent-Type: application/http\n\nHTTP/1.1 404 Not Found\nContent-ID: 1\n\n--batchresponse_1d2c--\n",
    );
    let answers = decode(CONTENT_TYPE, body.as_bytes(), 2, true).unwrap();
    assert_eq!((answers[0].status, answers[1].status), (404, 204));
}

#[test]
fn a_cut_short_or_garbled_answer_is_a_decode_error_not_a_panic() {
    let good = format!(
        "{}--batchresponse_1d2c--\r\n",
        part("412 Precondition Failed")
    );
    // Every prefix of a good answer short of its closing delimiter is refused; none panics.
    for end in 0..good.len() - "\r\n".len() {
        let cut = &good.as_bytes()[..end];
        assert!(
            decode(CONTENT_TYPE, cut, 1, true).is_err(),
            "{:?}",
            String::from_utf8_lossy(cut)
        );
    }
    assert!(decode(CONTENT_TYPE, good.as_bytes(), 1, true).is_ok());

    let garbled_json = good.replace("}}", "}");
    let error = decode(CONTENT_TYPE, garbled_json.as_bytes(), 1, true).unwrap_err();
    assert!(error.contains("unreadable JSON"), "{error}");
    let no_status = good.replace("HTTP/1.1 412 Precondition Failed", "<html>oops</html>");
    let error = decode(CONTENT_TYPE, no_status.as_bytes(), 1, true).unwrap_err();
    assert!(error.contains("not an HTTP reply"), "{error}");
    let error = decode("application/json", good.as_bytes(), 1, true).unwrap_err();
    assert!(error.contains("not multipart/mixed"), "{error}");
    let error = decode(CONTENT_TYPE, &[0xff, 0xfe, b'-'], 1, true).unwrap_err();
    assert!(error.contains("UTF-8"), "{error}");
    let error = decode(CONTENT_TYPE, good.as_bytes(), 0, true).unwrap_err();
    assert!(error.contains("more replies"), "{error}");
}

#[test]
fn a_plain_text_refusal_is_kept_for_its_message() {
    let body = crlf(
        "--batchresponse_1d2c\nContent-Type: application/http\n\nHTTP/1.1 502 Bad Gateway\nContent-Type: text/plain\n\nupstream went away\n--batchresponse_1d2c--\n",
    );
    let answers = decode(CONTENT_TYPE, body.as_bytes(), 1, true).unwrap();
    assert_eq!(answers[0].body, json!("upstream went away"));
    assert_eq!(answers[0].error_message(), "status 502: upstream went away");
}
