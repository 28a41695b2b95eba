//! Secrets out of everything a person or a file sees: the terminal, errors, the journal, the
//! REPL's history. Every output path holds a `Redactor` made from the configuration's secrets.

use std::sync::Arc;

/// Replaces every secret value by `***` in text bound for a terminal, an error or the journal.
/// Clones share their secrets: one added at run time (a token a server issued) is hidden
/// everywhere the configuration's secrets are.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Each form of each secret, longest first, and whether it is weak (see [`WEAK_BELOW`]).
    secrets: Arc<std::sync::RwLock<Vec<(String, bool)>>>,
    /// Told of each new form (a GitHub Actions job masks it in its log before its first use).
    told: Arc<std::sync::RwLock<Option<Teller>>>,
}

/// What is told of a new form of a secret.
type Teller = Arc<dyn Fn(&str) + Send + Sync>;

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets themselves.
        f.write_str("Redactor")
    }
}

/// A secret shorter than this is weak: hidden where it stands as a word of its own, not inside
/// other words (a one-letter password would turn `ovscript.toml` into `ovscri***t.toml`), and
/// never where it is one of the words ovscript itself writes (a password `airflow` would make
/// every message about Airflow unreadable). `Config` names such a secret when it loads.
pub const WEAK_BELOW: usize = 8;

/// Words ovscript's own messages are made of: a weak secret equal to one is not hidden there.
const VOCABULARY: &[&str] = &[
    "airflow", "sentry", "github", "slack", "registry", "just", "git", "tf", "http", "admin",
    "password", "token", "ovscript",
];

impl Redactor {
    pub fn new(secrets: Vec<String>) -> Self {
        let redactor = Redactor::default();
        for secret in secrets {
            redactor.add(&secret);
        }
        redactor
    }

    /// Hides `secret` from now on, in every clone of this redactor.
    pub fn add(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let weak = secret.chars().count() < WEAK_BELOW;
        // Also as JSON and Rust's Debug escape it (`"` and `\\` inside), the forms it takes in
        // the journal and in printed values, the journal's escape of a printed value, and as a
        // URL encodes it (a REPL history line, a query).
        let json = |text: &str| {
            serde_json::to_string(text)
                .unwrap_or_default()
                .trim_matches('"')
                .to_string()
        };
        let debug = format!("{secret:?}").trim_matches('"').to_string();
        let encoded =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let forms = [
            json(secret),
            json(&debug),
            debug.clone(),
            encoded.clone(),
            encoded.replace("%20", "+"),
            secret.to_string(),
        ];
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        let teller = self.told.read().unwrap_or_else(|e| e.into_inner()).clone();
        for form in forms {
            if !secrets.iter().any(|(known, _)| *known == form) {
                if let Some(tell) = &teller {
                    tell(&form);
                }
                secrets.push((form, weak));
            }
        }
        // Longest first, so that a secret containing another is replaced whole.
        secrets.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
    }

    /// From now on `tell` hears of every form of every secret: those known already at once,
    /// then each new one before it is hidden (and so before it can be printed).
    pub fn tell_each_form(&self, tell: impl Fn(&str) + Send + Sync + 'static) {
        let tell: Teller = Arc::new(tell);
        for (form, _) in self
            .secrets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            tell(form);
        }
        *self.told.write().unwrap_or_else(|e| e.into_inner()) = Some(tell);
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        for (secret, weak) in secrets.iter() {
            if !out.contains(secret.as_str()) {
                continue;
            }
            out = if *weak {
                replace_words(&out, secret)
            } else {
                out.replace(secret.as_str(), "***")
            };
        }
        out
    }
}

/// Whether `secret` is too weak to hide everywhere it appears (see [`WEAK_BELOW`]).
pub fn is_weak(secret: &str) -> bool {
    secret.chars().count() < WEAK_BELOW
}

/// `text` with `secret` replaced where it stands as a word of its own (no letter, digit or `_`
/// on either side), unless it is one of ovscript's own words.
fn replace_words(text: &str, secret: &str) -> String {
    if VOCABULARY.contains(&secret.to_ascii_lowercase().as_str()) {
        return text.to_string();
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(secret) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + secret.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(is_word) || after.is_some_and(is_word) {
            out.push_str(secret);
        } else {
            out.push_str("***");
        }
        rest = &rest[at + secret.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_covers_escaped_forms() {
        let r = Redactor::new(vec![r#"pa"ss\word"#.into()]);
        let journal_line = serde_json::json!({ "m": r#"x pa"ss\word"# }).to_string();
        assert!(
            !r.redact(&journal_line).contains("ss"),
            "{}",
            r.redact(&journal_line)
        );
        assert_eq!(r.redact(&format!("{:?}", r#"pa"ss\word"#)), "\"***\"");
    }

    #[test]
    fn a_secret_printed_in_a_value_then_journaled_and_url_encoded_is_hidden() {
        let secret = r#"to"k\en 9"#;
        let r = Redactor::new(vec![secret.into()]);
        let printed = format!("{:?}", secret);
        let journaled = serde_json::json!({ "text": printed }).to_string();
        assert!(
            !r.redact(&journaled).contains("k\\"),
            "{}",
            r.redact(&journaled)
        );
        let encoded =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(r.redact(&format!("url?x={encoded}")), "url?x=***");
        assert_eq!(
            r.redact(&format!("q={}", encoded.replace("%20", "+"))),
            "q=***"
        );
    }

    #[test]
    fn a_weak_secret_is_hidden_as_a_word_and_leaves_the_rest_readable() {
        let r = Redactor::new(vec!["p".into(), "airflow".into(), "hunter2".into()]);
        assert_eq!(
            r.redact("cannot reach airflow at http://x: check ovscript.toml (p)"),
            "cannot reach airflow at http://x: check ovscript.toml (***)"
        );
        assert_eq!(
            r.redact("password hunter2, not hunter22"),
            "password ***, not hunter22"
        );
        assert!(is_weak("hunter2") && !is_weak("a-long-enough-secret"));
    }

    #[test]
    fn redaction_replaces_every_secret() {
        let r = Redactor::new(vec!["abc".into(), "abcdef".into(), String::new()]);
        assert_eq!(r.redact("x abcdef y abc"), "x *** y ***");
    }

    #[test]
    fn a_secret_added_later_is_hidden_by_every_clone() {
        let r = Redactor::new(vec!["pw".into()]);
        let clone = r.clone();
        r.add("eyJ.token");
        r.add("");
        assert_eq!(clone.redact("pw eyJ.token x"), "*** *** x");
    }
}
