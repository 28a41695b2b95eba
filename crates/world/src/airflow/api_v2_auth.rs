//! Airflow 3's authentication as the fake speaks it: `POST /auth/token` and the JWTs it issues.

use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{json, Value};
use sha2::Digest;

use super::api_v2::*;
use super::{Airflow, Token};
use crate::server::{Incoming, Reply};
use crate::Ctx;

/// What a request's `Authorization` header is worth to the fake.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Bearer {
    /// None, or not a bearer token (basic auth, say).
    Missing,
    Valid,
    Expired,
    /// Not a token this Airflow issued.
    Invalid,
}

pub(super) fn bearer(af: &Airflow, req: &Incoming) -> Bearer {
    let Some((scheme, jwt)) = req.header("authorization").and_then(|v| v.split_once(' ')) else {
        return Bearer::Missing;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Bearer::Missing;
    }
    match af.tokens.iter().find(|t| t.jwt == jwt.trim()) {
        None => Bearer::Invalid,
        Some(token) if token.expires <= af.now => Bearer::Expired,
        Some(_) => Bearer::Valid,
    }
}

/// `POST /auth/token` with `{"username", "password"}`: 201 with a JWT for the rehearsal's user.
pub(super) fn token(af: &mut Airflow, ctx: &Ctx, req: &Incoming) -> Result<Reply, Reply> {
    let body = match req.json() {
        Some(Value::Object(body)) => body,
        _ => return Err(login_body_invalid("username", "missing")),
    };
    let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let (Some(user), Some(password)) = (field("username"), field("password")) else {
        let missing = if field("username").is_none() {
            "username"
        } else {
            "password"
        };
        return Err(login_body_invalid(missing, "missing"));
    };
    if user != ctx.creds.airflow_user || password != ctx.creds.airflow_password {
        return Err(detail(401, "Invalid credentials"));
    }
    let jwt = jwt(&user, af.now, af.token_lifetime, af.tokens.len());
    af.tokens.push(Token {
        jwt: jwt.clone(),
        expires: af.now + af.token_lifetime,
    });
    Ok(Reply::json(201, &json!({ "access_token": jwt })))
}

/// A token shaped like the real one (HS512, the claims of Airflow's JWT generator); unique per
/// issue, and signed with nothing a test could guess.
pub(super) fn jwt(user: &str, now: DateTime<Utc>, lifetime: Span, serial: usize) -> String {
    use base64::Engine as _;
    let b64 = |value: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string().as_bytes())
    };
    let header = b64(&json!({"alg": "HS512", "kid": "not-used", "typ": "JWT"}));
    let jti = hex(&sha2::Sha256::digest(
        format!("{user} {serial} {}", now.timestamp_nanos_opt().unwrap_or(0)).as_bytes(),
    ))[..32]
        .to_string();
    let issued = now.timestamp();
    let payload = b64(&json!({
        "sub": user, "role": "admin", "teams": [], "jti": jti, "aud": "apache-airflow",
        "nbf": issued, "exp": issued + lifetime.num_seconds(), "iat": issued,
    }));
    let signature = sha2::Sha512::digest(format!("{header}.{payload}.{jti}").as_bytes());
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature);
    format!("{header}.{payload}.{signature}")
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `/auth/token` validates its body by hand: pydantic's message as a string, not a list.
pub(super) fn login_body_invalid(field: &str, kind: &str) -> Reply {
    let text = format!(
        "1 validation error for LoginBody\n{field}\n  Field required [type={kind}, input_value={{}}, input_type=dict]\n    For further information visit https://errors.pydantic.dev/2.14/v/{kind}"
    );
    detail(422, &text)
}
