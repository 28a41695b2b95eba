//! The server's own words in a failed answer, from each error shape the systems send.

use serde_json::Value;

/// The server's own words about a failure, from the JSON error shapes of Airflow 2 (RFC 7807),
/// Airflow 3 (FastAPI's `detail`, a string or a list of validation errors, and `error` for a
/// route it does not have), Sentry and GitHub; of an HTML page (a webserver's own error page),
/// its title.
pub fn detail_of(text: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        if let Some(title) = html_title(text) {
            return title;
        }
        return text
            .chars()
            .take(200)
            .collect::<String>()
            .trim()
            .to_string();
    };
    let mut parts: Vec<String> = ["detail", "message", "title", "error"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_str))
        .map(|s| vec![s.to_string()])
        .unwrap_or_default();
    if let Some(invalid) = value.get("detail").and_then(Value::as_array) {
        parts.extend(invalid.iter().filter_map(validation_error));
    }
    if let Some(errors) = value.get("errors").and_then(Value::as_array) {
        parts.extend(errors.iter().filter_map(error_text));
    }
    parts.join("; ")
}

/// The `<title>` of an HTML page, e.g. "Airflow 404".
fn html_title(text: &str) -> Option<String> {
    let start = text.find("<title>")? + "<title>".len();
    let length = text[start..].find("</title>")?;
    let title = text[start..start + length].trim();
    (!title.is_empty()).then(|| title.to_string())
}

/// One of FastAPI's validation errors, `{loc: ["body", "is_paused"], msg: "Field required"}`,
/// as `body.is_paused: Field required`: where the request was wrong, and how.
fn validation_error(error: &Value) -> Option<String> {
    if let Some(text) = error.as_str() {
        return Some(text.to_string());
    }
    let msg = error.get("msg").and_then(Value::as_str)?;
    let loc: Vec<String> = error
        .get("loc")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|part| match part {
            Value::String(name) => name.clone(),
            other => other.to_string(),
        })
        .collect();
    Some(if loc.is_empty() {
        msg.to_string()
    } else {
        format!("{}: {msg}", loc.join("."))
    })
}

/// One entry of an `errors` list: a string, `{message}`, or GitHub's `{field, code}`.
fn error_text(error: &Value) -> Option<String> {
    if let Some(text) = error
        .get("message")
        .and_then(Value::as_str)
        .or(error.as_str())
    {
        return Some(text.to_string());
    }
    let field = error.get("field").and_then(Value::as_str)?;
    let code = error
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("invalid");
    Some(format!("{field} {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_come_from_each_error_shape() {
        assert_eq!(
            detail_of(r#"{"type":"x","title":"Unauthorized","status":401,"detail":"bad pw"}"#),
            "bad pw"
        );
        assert_eq!(
            detail_of(
                r#"{"message":"Validation Failed","errors":[{"message":"Can not approve your own pull request"}]}"#
            ),
            "Validation Failed; Can not approve your own pull request"
        );
        assert_eq!(
            detail_of(
                r#"{"message":"Unprocessable Entity","errors":["Review Can not approve your own pull request"]}"#
            ),
            "Unprocessable Entity; Review Can not approve your own pull request"
        );
        assert_eq!(
            detail_of(
                r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","field":"base","code":"invalid"}]}"#
            ),
            "Validation Failed; base invalid"
        );
    }

    #[test]
    fn details_come_from_airflow_3s_fastapi_errors() {
        assert_eq!(
            detail_of(r#"{"detail":"Dag with id: no_such_dag was not found"}"#),
            "Dag with id: no_such_dag was not found"
        );
        assert_eq!(
            detail_of(
                r#"{"detail":[{"type":"extra_forbidden","loc":["body","x"],"msg":"Extra inputs are not permitted","input":1},{"type":"missing","loc":["body","is_paused"],"msg":"Field required","input":{}}]}"#
            ),
            "body.x: Extra inputs are not permitted; body.is_paused: Field required"
        );
        assert_eq!(
            detail_of(r#"{"detail":[{"loc":["query","limit",0],"msg":"bad"},{"msg":"no place"}]}"#),
            "query.limit.0: bad; no place"
        );
        assert_eq!(
            detail_of(r#"{"error":"/api/v1 has been removed in Airflow 3, please use its upgraded version /api/v2 instead."}"#),
            "/api/v1 has been removed in Airflow 3, please use its upgraded version /api/v2 instead."
        );
        // Airflow 2's webserver answers a path outside its API with a page.
        assert_eq!(
            detail_of(
                "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <title>Airflow 404</title>\n"
            ),
            "Airflow 404"
        );
        // Airflow 2's 401 has a null detail: its title speaks.
        assert_eq!(
            detail_of(
                r#"{"detail":null,"status":401,"title":"Unauthorized","type":"about:blank"}"#
            ),
            "Unauthorized"
        );
    }
}
