//! `tf`: read and write one attribute of a Terraform file, keeping every other byte.
//!
//! hcl-edit parses the file and gives each value's byte span; a change splices the new literal
//! into the original text at that span, so comments, spacing and alignment stay as the author
//! left them. The one exception is what `terraform fmt` itself would change: when a value's width
//! changes on a line whose trailing comment is aligned with its neighbours' comments, the spaces
//! before those comments move with it, so that a fmt-clean file stays clean. (The `=` signs need
//! nothing: fmt aligns them by the width of the names, which a value change does not touch.)

use rhai::{Dynamic, Engine, FnPtr, NativeCallContext, Token};
use serde_json::json;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::context::{Ctx, LastResort};
use crate::diagnostic::message_of;
use crate::error::{host_error, HostResult};
use crate::journal::Event;
use crate::objects::Objects;

mod literal;
mod source;

use crate::fs::write_atomically;
use literal::*;
use source::*;

/// The `tf` object scripts call. A cheap clone: objects are served as constants, by value.
#[derive(Clone)]
pub struct Tf {
    ctx: Ctx,
}

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    engine.register_type_with_name::<Tf>("Tf");
    allow_with_as_a_method_name(engine);
    objects.insert("tf", Dynamic::from(Tf::new(ctx)));
    engine.register_global_module(rhai::exported_module!(tf_api).into());
}

/// The `tf` object's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod tf_api {
    use super::*;

    /// The value (bool, number, string or ()) of one attribute of a .tf file, by a name unique in
    /// the file or a dotted path; a relative file is in the infrastructure checkout.
    ///
    /// ```rhai
    /// let cleared = tf.get("environments/prod/catalog-airflow.tf", "module.catalog-airflow.running_dags_cleared");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn get(tf: Tf, file: &str, key: &str) -> HostResult<Dynamic> {
        tf.get(file, key)
    }

    /// Sets one attribute of a .tf file to a bool, number or string, atomically, keeping every
    /// other byte; a missing or ambiguous key is an error.
    ///
    /// ```rhai
    /// tf.set("environments/prod/catalog-airflow.tf", "running_dags_cleared", true);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn set(tf: Tf, file: &str, key: &str, value: Dynamic) -> HostResult<()> {
        tf.set(file, key, &value)
    }

    /// Sets one attribute, runs `body`, then puts the attribute's safe value back whatever
    /// happens (error, throw, Ctrl-C, a second Ctrl-C): the value it had, or, for a flag found
    /// already at `value` (left by a killed run), the other one. Returns what `body` returns.
    ///
    /// ```rhai
    /// tf.with("environments/prod/catalog-airflow.tf", "running_dags_cleared", true, || just("apply", "prod", "catalog-airflow"));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn with(
        call: NativeCallContext,
        tf: Tf,
        file: &str,
        key: &str,
        value: Dynamic,
        body: FnPtr,
    ) -> HostResult<Dynamic> {
        tf.with(file, key, &value, || body.call_within_context(&call, ()))
    }
}

/// `with` is a reserved word in Rhai, refused even after a dot, and the design names the method
/// `tf.with`: the tokenizer hands the word on as a plain identifier.
fn allow_with_as_a_method_name(engine: &mut Engine) {
    #[allow(deprecated)] // on_parse_token is marked volatile, not deprecated
    engine.on_parse_token(|token, _, _| match token {
        Token::Reserved(word) if word.as_str() == "with" => Token::Identifier(word),
        other => other,
    });
}

impl Tf {
    pub fn new(ctx: &Ctx) -> Tf {
        Tf { ctx: ctx.clone() }
    }

    /// `tf.get`: one attribute's value.
    pub fn get(&self, file: &str, key: &str) -> HostResult<Dynamic> {
        let file = self.locate(file)?;
        let source = file.parse()?;
        let attr = source.find(key, &file).map_err(host_error)?;
        literal(&attr.value).map(Literal::into_dynamic).ok_or_else(|| {
            host_error(format!(
                "{} in {file} is an expression (`{}`), not a value: tf.get reads bools, numbers, strings and null",
                attr.path,
                source.value_text(attr)
            ))
        })
    }

    /// `tf.set`: one attribute written, never a clearance flag to true.
    pub fn set(&self, file: &str, key: &str, value: &Dynamic) -> HostResult<()> {
        let file = self.locate(file)?;
        let new_value = hcl_literal(value).map_err(host_error)?;
        let change = file.parse()?.change(key, &new_value, &file)?;
        if is_clearance(&change.path) && new_value == "true" {
            self.inside_the_checkout(&file)?;
            return Err(host_error(format!(
                "tf.set would leave the clearance flag {} true in {}: nothing was written. A clearance flag is true only while production applies: tf.with(FILE, KEY, true, || just(\"apply\", ...)) sets it and puts it back whatever happens",
                change.path, file.shown
            )));
        }
        self.apply(&file, &change)
    }

    /// `tf.with`: `body` (a script's closure, or the deployment's production apply) runs with
    /// the attribute set, and the safe value goes back whatever happens.
    pub fn with(
        &self,
        file: &str,
        key: &str,
        value: &Dynamic,
        body: impl FnOnce() -> HostResult<Dynamic>,
    ) -> HostResult<Dynamic> {
        let file = self.locate(file)?;
        let new_value = hcl_literal(value).map_err(host_error)?;
        let original = file.parse()?;
        let mut change = original.change(key, &new_value, &file)?;
        let mut safe_text = original.text.clone();
        // A flag already at the value (left by a killed run) is not "nothing to undo": the
        // script's safe value is the other one, and that is what goes back.
        if let (true, Some(safe)) = (change.is_noop(), opposite_bool(&new_value)) {
            let safe_change = original.change(key, safe, &file)?;
            let warning = format!(
                "{} was already {new_value} in {} (an earlier run left it): it will be {safe} when this block ends",
                change.path, file.shown
            );
            self.ctx.ui.warn(&warning);
            self.ctx.record(Event::Warning {
                message: warning.clone(),
            });
            safe_text = safe_change.text;
            change.before = safe.to_string();
        }
        // The flag written and its undo registered as one change: an exit between the two would
        // leave it set.
        let change_in_flight = self.ctx.cancel.change();
        self.apply(&file, &change)?;
        let _exit_restore = self.restore_on_exit(&file, &safe_text, &change);
        drop(change_in_flight);
        // A clearance flag raised: production recipes may apply while the body runs.
        let clearance = is_clearance(&change.path) && new_value == "true" && !self.ctx.dry_run;
        let raised = clearance.then(|| self.ctx.guards.raise(&file.path, key));
        let result = body();
        drop(raised);
        let restored = {
            // Ctrl-C must not cut the restore short: the flag would stay set in production.
            let _hold = self.ctx.cancel.hold();
            self.restore(&file, &safe_text, &change)
        };
        match (result, restored) {
            (Err(error), Err(restore_error)) => {
                let warning = message_of(&restore_error);
                self.ctx.ui.warn(&warning);
                self.ctx.record(Event::Warning {
                    message: warning.clone(),
                });
                Err(error)
            }
            (Err(error), Ok(())) => Err(error),
            (Ok(_), Err(restore_error)) => Err(restore_error),
            (Ok(value), Ok(())) => {
                self.ctx.check_cancelled()?;
                Ok(value)
            }
        }
    }

    /// A relative path is taken from the infrastructure checkout, an absolute one as is.
    fn locate(&self, file: &str) -> HostResult<TfFile> {
        let given = Path::new(file);
        let (path, relative) = if given.is_absolute() {
            (given.to_path_buf(), false)
        } else {
            (self.ctx.infra_dir()?.join(given), true)
        };
        Ok(TfFile {
            shown: file.to_string(),
            path,
            relative,
        })
    }

    /// Refuses a change to a file outside the infrastructure checkout (`../x.tf`, an absolute
    /// path, a link out of it): a runbook edits the checkout, which is committed and reviewed.
    fn inside_the_checkout(&self, file: &TfFile) -> HostResult<()> {
        let checkout = self.ctx.infra_dir()?;
        let resolved = (checkout.canonicalize(), file.path.canonicalize());
        let (Ok(checkout), Ok(path)) = resolved else {
            return Ok(()); // A missing file was said already when it was read.
        };
        if path.starts_with(&checkout) {
            return Ok(());
        }
        Err(host_error(format!(
            "{} is outside the infrastructure checkout {}: ovscript changes only the checkout's files (committed and reviewed); give a path inside it",
            file.shown,
            checkout.display()
        )))
    }

    /// Writes a planned change (or says it would), then tells the operator and the journal.
    fn apply(&self, file: &TfFile, change: &Change) -> HostResult<()> {
        if change.is_noop() {
            self.ctx.ui.line(&format!(
                "{} is already {} in {}",
                change.path, change.after, file.shown
            ));
            return Ok(());
        }
        let what = format!(
            "set {} = {} in {} (was {})",
            change.path, change.after, file.shown, change.before
        );
        self.inside_the_checkout(file)?;
        if self.ctx.would(&what) {
            return Ok(());
        }
        write_atomically(&file.path, &change.text).map_err(host_error)?;
        self.journal(file, &change.path, &change.before, &change.after, "set");
        self.ctx.ui.line(&what);
        Ok(())
    }

    /// Undoes `change`: the original bytes when the file is as `change` left it; otherwise someone
    /// else changed it meanwhile, so only the key goes back and their change stays.
    /// If the process exits in the block (a second Ctrl-C, a panic), the original bytes go back
    /// all the same, or the operator is told what is still set.
    fn restore_on_exit(
        &self,
        file: &TfFile,
        original: &str,
        change: &Change,
    ) -> Option<LastResort> {
        if change.is_noop() || self.ctx.dry_run {
            return None;
        }
        let (path, original, written) =
            (file.path.clone(), original.to_string(), change.text.clone());
        let what = format!("{} = {} in {}", change.path, change.before, file.shown);
        let redactor = self.ctx.redactor.clone();
        Some(self.ctx.cancel.last_resort(move || {
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            let outcome = if current == written {
                write_atomically(&path, &original).map(|_| format!("restored {what}"))
            } else {
                Err("the file changed meanwhile".into())
            };
            let line =
                outcome.unwrap_or_else(|e| format!("NOT RESTORED: set {what} back by hand ({e})"));
            crate::ui::err(&format!("{}\n", redactor.redact(&line)));
        }))
    }

    fn restore(&self, file: &TfFile, original: &str, change: &Change) -> HostResult<()> {
        if change.is_noop() {
            return Ok(());
        }
        let what = format!("{} = {} in {}", change.path, change.before, file.shown);
        if self.ctx.would(&format!("restore {what}")) {
            return Ok(());
        }
        let failed = |reason: String| {
            host_error(format!(
                "could not restore {what}: {reason}; set it back by hand"
            ))
        };
        let current = read_text(file).map_err(failed)?;
        if current == change.text {
            write_atomically(&file.path, original).map_err(failed)?;
            self.journal(file, &change.path, &change.after, &change.before, "restore");
            self.ctx.ui.line(&format!("restored {what}"));
            return Ok(());
        }
        let warning = format!(
            "{} changed during the block: restoring only {} and keeping the other changes",
            file.shown, change.path
        );
        self.ctx.ui.warn(&warning);
        self.ctx.record(Event::Warning {
            message: warning.clone(),
        });
        let undo = TfSource::parse(current, file)
            .and_then(|source| source.change(&change.path, &change.before, file))
            .map_err(|e| failed(message_of(&e)))?;
        if undo.is_noop() {
            self.ctx.ui.line(&format!(
                "{} is already {} in {}",
                change.path, change.before, file.shown
            ));
            return Ok(());
        }
        write_atomically(&file.path, &undo.text).map_err(failed)?;
        self.journal(file, &undo.path, &undo.before, &undo.after, "restore");
        self.ctx.ui.line(&format!("restored {what}"));
        Ok(())
    }

    fn journal(&self, file: &TfFile, key: &str, before: &str, after: &str, reason: &str) {
        self.ctx.record(Event::FileChange {
            file: file.shown.clone(),
            path: json!(file.path),
            key: key.to_string(),
            reason: reason.to_string(),
            before: json_of(before),
            after: json_of(after),
        });
    }
}

/// A clearance flag (`running_dags_cleared`, `data_refresh_cleared`): true tells production
/// that a deploy made sure it may be replaced now.
fn is_clearance(path: &str) -> bool {
    path.rsplit('.')
        .next()
        .is_some_and(|name| name.ends_with("_cleared"))
}

/// A `.tf` file as the script named it, and where it is.
struct TfFile {
    shown: String,
    path: PathBuf,
    /// Taken from the infrastructure checkout (worth saying when it is missing).
    relative: bool,
}

impl fmt::Display for TfFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())
    }
}

impl TfFile {
    fn parse(&self) -> HostResult<TfSource> {
        let text = read_text(self).map_err(host_error)?;
        TfSource::parse(text, self)
    }
}

fn read_text(file: &TfFile) -> Result<String, String> {
    match std::fs::read(&file.path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| format!("{file} is not UTF-8 text: is it really a .tf file?")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let hint = if file.relative {
                " (a relative path is taken from the infrastructure checkout: OVSCRIPT_INFRA_DIR or `dir` under [infra])"
            } else {
                ""
            };
            Err(format!("{file} does not exist: check the path{hint}"))
        }
        Err(e) => Err(format!("cannot read {file}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::literal::*;
    use super::source::*;
    use super::*;

    const CATALOG: &str = r#"# The catalog (Airflow) in production.

module "catalog-airflow" {
  source = "../../modules/services/catalog-airflow"

  docker_image_tag     = "rel-2024.05.01.12.00.00"
  running_dags_cleared = false # true only while a deploy applies

  scheduler_replicas = 1   # one scheduler
  worker_concurrency = 16  # task slots per worker
  cpu_per_worker     = 0.5 # vCPU
  image              = "x" // a name
  ready              = null
  tag                = var.tag
}

module "other" {
  running_dags_cleared = true
}
"#;

    fn file() -> TfFile {
        TfFile {
            shown: "catalog-airflow.tf".into(),
            path: PathBuf::from("/infra/catalog-airflow.tf"),
            relative: false,
        }
    }

    fn source(text: &str) -> TfSource {
        TfSource::parse(text.to_string(), &file()).unwrap()
    }

    fn set(text: &str, key: &str, value: &str) -> String {
        source(text).change(key, value, &file()).unwrap().text
    }

    fn error(result: HostResult<impl Sized>) -> String {
        message_of(&result.err().expect("an error"))
    }

    #[test]
    fn a_set_changes_only_the_value_bytes() {
        let key = "module.catalog-airflow.running_dags_cleared";
        let text = set(CATALOG, key, "true");
        assert_eq!(
            text,
            CATALOG.replace("= false # true only", "= true # true only")
        );
        assert_eq!(set(&text, key, "false"), CATALOG);
    }

    #[test]
    fn keys_are_unique_names_or_dotted_paths() {
        let s = source(CATALOG);
        assert_eq!(
            s.find("worker_concurrency", &file()).unwrap().path,
            "module.catalog-airflow.worker_concurrency"
        );
        assert_eq!(
            s.find("module.other.running_dags_cleared", &file())
                .unwrap()
                .span,
            s.attrs.last().unwrap().span
        );
        let ambiguous = s.find("running_dags_cleared", &file()).err().unwrap();
        assert!(
            ambiguous.contains("ambiguous in /infra/catalog-airflow.tf"),
            "{ambiguous}"
        );
        assert!(ambiguous.contains("module.catalog-airflow.running_dags_cleared (line 7), module.other.running_dags_cleared (line 18)"), "{ambiguous}");
        let missing = s
            .find("module.nope.running_dags_cleared", &file())
            .err()
            .unwrap();
        assert!(missing.contains("attributes named running_dags_cleared: module.catalog-airflow.running_dags_cleared (line 7), module.other.running_dags_cleared (line 18)"), "{missing}");
        let unknown = s.find("nope", &file()).err().unwrap();
        assert!(unknown.contains("its attributes: module.catalog-airflow.source (line 4), module.catalog-airflow.docker_image_tag (line 6)"), "{unknown}");
    }

    #[test]
    fn literals_read_back_as_values() {
        let s = source(CATALOG);
        let value =
            |key: &str| literal(&s.find(key, &file()).unwrap().value).map(Literal::into_json);
        assert_eq!(value("worker_concurrency"), Some(json!(16)));
        assert_eq!(value("cpu_per_worker"), Some(json!(0.5)));
        assert_eq!(
            value("docker_image_tag"),
            Some(json!("rel-2024.05.01.12.00.00"))
        );
        assert_eq!(value("ready"), Some(Value::Null));
        assert!(value("tag").is_none());
    }

    #[test]
    fn aligned_trailing_comments_follow_a_wider_or_narrower_value() {
        let wider = set(CATALOG, "cpu_per_worker", "0.25");
        assert!(wider.contains("  scheduler_replicas = 1    # one scheduler\n  worker_concurrency = 16   # task slots per worker\n  cpu_per_worker     = 0.25 # vCPU\n  image              = \"x\"  // a name\n"), "{wider}");
        assert_eq!(set(&wider, "cpu_per_worker", "0.5"), CATALOG);
        let narrower = set(CATALOG, "cpu_per_worker", "1");
        assert_eq!(
            narrower,
            CATALOG.replace("= 0.5 #", "= 1   #"),
            "the image line stays the widest"
        );
    }

    #[test]
    fn unaligned_comments_keep_their_spacing() {
        let text = "locals {\n  a = 1      # one\n  bb = 22 # two\n}\n";
        assert_eq!(
            set(text, "a", "100"),
            "locals {\n  a = 100      # one\n  bb = 22 # two\n}\n"
        );
    }

    #[test]
    fn strings_are_quoted_so_that_they_read_back_unchanged() {
        for value in [
            "plain",
            "quote \" and \\ back",
            "line\nbreak\ttab",
            "${not.a.template} %{if}",
            "é ☃",
            "\u{1}",
        ] {
            let hcl = hcl_string(value);
            let parsed = hcl_edit::parser::parse_expr(&hcl).unwrap();
            assert_eq!(parsed.as_str(), Some(value), "{hcl}");
        }
    }

    #[test]
    fn script_values_become_hcl_literals() {
        assert_eq!(hcl_literal(&true.into()).unwrap(), "true");
        assert_eq!(hcl_literal(&Dynamic::from(-3_i64)).unwrap(), "-3");
        assert_eq!(hcl_literal(&Dynamic::from(2.0_f64)).unwrap(), "2.0");
        assert_eq!(hcl_literal(&Dynamic::from("rel-1")).unwrap(), "\"rel-1\"");
        assert!(hcl_literal(&Dynamic::from(f64::NAN)).is_err());
        assert!(hcl_literal(&Dynamic::from_array(vec![]))
            .unwrap_err()
            .contains("not array"));
    }

    #[test]
    fn a_value_over_several_lines_is_refused() {
        let text = "locals {\n  list = [\n    1,\n  ]\n}\n";
        let message = error(source(text).change("list", "2", &file()));
        assert!(
            message.contains("locals.list in /infra/catalog-airflow.tf spans several lines"),
            "{message}"
        );
    }

    #[test]
    fn a_parse_error_gives_line_and_column() {
        let message = error(TfSource::parse("locals {\n  a = = 1\n}\n".into(), &file()));
        assert!(
            message.starts_with("cannot parse /infra/catalog-airflow.tf: line 2, column"),
            "{message}"
        );
        assert!(message.contains("(`a = = 1`)"), "{message}");
    }

    #[test]
    fn journal_values_are_json_or_the_expression_text() {
        assert_eq!(json_of("false"), json!(false));
        assert_eq!(json_of("\"a\\\"b\""), json!("a\"b"));
        assert_eq!(json_of("var.tag"), json!("var.tag"));
    }
}
