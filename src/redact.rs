//! Secrets out of everything a person or a file sees: the terminal, errors, the journal, the
//! REPL's history. Every output path holds a `Redactor` made from the configuration's secrets.

use std::sync::Arc;

/// Replaces every secret value by `***` in text bound for a terminal, an error or the journal.
/// Clones share their secrets: one added at run time (a token a server issued) is hidden
/// everywhere the configuration's secrets are.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<std::sync::RwLock<Vec<String>>>,
}

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
        // Also as JSON and Rust's Debug escape it (`"` and `\\` inside), the forms it takes in
        // the journal and in printed values.
        let json = serde_json::to_string(secret).unwrap_or_default();
        let debug = format!("{secret:?}");
        let forms = [
            json.trim_matches('"').to_string(),
            debug.trim_matches('"').to_string(),
            secret.to_string(),
        ];
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        for form in forms {
            if !secrets.contains(&form) {
                secrets.push(form);
            }
        }
        // Longest first, so that a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
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
