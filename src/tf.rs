//! `tf`: read and write one attribute of a Terraform file, keeping every other byte.
//!
//! hcl-edit parses the file and gives each value's byte span; a change splices the new literal
//! into the original text at that span, so comments, spacing and alignment stay as the author
//! left them. The one exception is what `terraform fmt` itself would change: when a value's width
//! changes on a line whose trailing comment is aligned with its neighbours' comments, the spaces
//! before those comments move with it, so that a fmt-clean file stays clean. (The `=` signs need
//! nothing: fmt aligns them by the width of the names, which a value change does not touch.)

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;
use rhai::{Dynamic, Engine, FnPtr, NativeCallContext, Token};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::context::{Ctx, LastResort};
use crate::diagnostic::message_of;
use crate::objects::{describe, Objects};
use crate::error::{host_error, HostResult};

/// The `tf` object scripts call. A cheap clone: objects are served as constants, by value.
#[derive(Clone)]
pub struct Tf {
    ctx: Ctx,
}

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    engine.register_type_with_name::<Tf>("Tf");
    allow_with_as_a_method_name(engine);
    objects.insert("tf", Dynamic::from(Tf { ctx: ctx.clone() }));

    describe(
        "get",
        &["tf: Tf", "file: &str", "key: &str", "Dynamic"],
        "The value (bool, number, string or ()) of one attribute of a .tf file, by a name unique in the file or a dotted path; a relative file is in the infrastructure checkout.",
        r#"let cleared = tf.get("environments/prod/catalog-airflow.tf", "module.catalog-airflow.running_dags_cleared");"#,
    )
    .register_into_engine(engine, |tf: Tf, file: &str, key: &str| tf.get(file, key));
    describe(
        "set",
        &["tf: Tf", "file: &str", "key: &str", "value: Dynamic", "()"],
        "Sets one attribute of a .tf file to a bool, number or string, atomically, keeping every other byte; a missing or ambiguous key is an error.",
        r#"tf.set("environments/prod/catalog-airflow.tf", "running_dags_cleared", true);"#,
    )
    .register_into_engine(engine, |tf: Tf, file: &str, key: &str, value: Dynamic| {
        tf.set(file, key, &value)
    });
    describe(
        "with",
        &["tf: Tf", "file: &str", "key: &str", "value: Dynamic", "body: FnPtr", "Dynamic"],
        "Sets one attribute, runs `body`, then restores the file's original bytes whatever happens (error, throw, Ctrl-C); returns what `body` returns.",
        r#"tf.with("environments/prod/catalog-airflow.tf", "running_dags_cleared", true, || just("apply", "prod", "catalog-airflow"));"#,
    )
    .register_into_engine(
        engine,
        |call: NativeCallContext, tf: Tf, file: &str, key: &str, value: Dynamic, body: FnPtr| {
            tf.with(&call, file, key, &value, &body)
        },
    );
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
    fn get(&self, file: &str, key: &str) -> HostResult<Dynamic> {
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

    fn set(&self, file: &str, key: &str, value: &Dynamic) -> HostResult<()> {
        let file = self.locate(file)?;
        let new_value = hcl_literal(value).map_err(host_error)?;
        let change = file.parse()?.change(key, &new_value, &file)?;
        self.apply(&file, &change)
    }

    fn with(
        &self,
        call: &NativeCallContext,
        file: &str,
        key: &str,
        value: &Dynamic,
        body: &FnPtr,
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
            self.ctx.record("warning", json!({ "message": warning }));
            safe_text = safe_change.text;
            change.before = safe.to_string();
        }
        self.apply(&file, &change)?;
        let _exit_restore = self.restore_on_exit(&file, &safe_text, &change);
        let result = body.call_within_context::<Dynamic>(call, ());
        let restored = {
            // Ctrl-C must not cut the restore short: the flag would stay set in production.
            let _hold = self.ctx.cancel.hold();
            self.restore(&file, &safe_text, &change)
        };
        match (result, restored) {
            (Err(error), Err(restore_error)) => {
                let warning = message_of(&restore_error);
                self.ctx.ui.warn(&warning);
                self.ctx.record("warning", json!({ "message": warning }));
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
            eprintln!("{}", redactor.redact(&line));
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
        self.ctx.record("warning", json!({ "message": warning }));
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
        self.ctx.record(
            "file_change",
            json!({
                "file": file.shown, "path": file.path, "key": key, "reason": reason,
                "before": json_of(before), "after": json_of(after),
            }),
        );
    }
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

/// Replaces `path` by a file holding `text`: a temporary file in the same folder, flushed to
/// disk, given the original's permissions, then renamed over it, so that a crash leaves either
/// the old file or the new one, never half of one.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    // Write through a symbolic link to the file it names, not over the link.
    let path =
        std::fs::canonicalize(path).map_err(|e| format!("cannot find {}: {e}", path.display()))?;
    let folder = path.parent().unwrap_or(Path::new("/"));
    let metadata =
        std::fs::metadata(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    refuse_read_only(&path, &metadata, folder)?;
    let mut temporary = tempfile::Builder::new()
        .prefix(".ovscript-")
        .suffix(".tf.tmp")
        .tempfile_in(folder)
        .map_err(|e| {
            format!(
                "cannot write next to {} (an atomic write needs a temporary file in {}): {e}",
                path.display(),
                folder.display()
            )
        })?;
    let failed = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    temporary.write_all(text.as_bytes()).map_err(failed)?;
    temporary
        .as_file()
        .set_permissions(metadata.permissions())
        .map_err(failed)?;
    temporary.as_file().sync_all().map_err(failed)?;
    temporary.persist(&path).map_err(|e| failed(e.error))?;
    // The rename is durable once the folder is flushed too; a folder that cannot be opened for
    // that (some file systems) already holds the complete new file, so this is best effort.
    if let Ok(dir) = std::fs::File::open(folder) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A read-only file or folder was made so on purpose: refuse by its permission bits, which holds
/// for root too (root could rename over it regardless), and by a real write check otherwise.
fn refuse_read_only(
    path: &Path,
    metadata: &std::fs::Metadata,
    folder: &Path,
) -> Result<(), String> {
    let file_writable = !metadata.permissions().readonly()
        && std::fs::OpenOptions::new().write(true).open(path).is_ok();
    if !file_writable {
        return Err(format!(
            "{} is read-only: make it writable (chmod u+w) if it should change, then run again",
            path.display()
        ));
    }
    let folder_read_only = std::fs::metadata(folder)
        .map(|m| m.permissions().readonly())
        .unwrap_or(false);
    if folder_read_only {
        return Err(format!(
            "the folder {} is read-only, and an atomic write of {} needs a temporary file there: make it writable (chmod u+w), then run again",
            folder.display(),
            path.display()
        ));
    }
    Ok(())
}

/// One attribute of a file: its dotted path and where it is.
struct Attr {
    /// `module.catalog-airflow.running_dags_cleared`: block types and labels, then the name.
    path: String,
    name: String,
    value: Expression,
    /// The value's bytes.
    span: Range<usize>,
    /// Where the attribute's name starts.
    start: usize,
}

/// A parsed `.tf` file: its text and every attribute of every block, in file order.
struct TfSource {
    text: String,
    attrs: Vec<Attr>,
}

impl TfSource {
    fn parse(text: String, file: &TfFile) -> HostResult<TfSource> {
        let body = hcl_edit::parser::parse_body(&text).map_err(|e| {
            host_error(format!(
                "cannot parse {file}: line {}, column {}: {} (`{}`): fix the file, then run again",
                e.location().line(),
                e.location().column(),
                e.message(),
                e.line().trim()
            ))
        })?;
        let mut attrs = Vec::new();
        collect_attributes(&body, &mut Vec::new(), &mut attrs);
        Ok(TfSource { text, attrs })
    }

    /// `module.a.x (line 7), module.b.x (line 14)`: the line tells apart blocks of the same path.
    fn listing(&self, attrs: &[&Attr]) -> String {
        const SHOWN: usize = 30;
        let mut list: Vec<String> = attrs
            .iter()
            .take(SHOWN)
            .map(|a| format!("{} (line {})", a.path, self.line_of(a.start)))
            .collect();
        if attrs.len() > SHOWN {
            list.push(format!("and {} more", attrs.len() - SHOWN));
        }
        list.join(", ")
    }

    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset].matches('\n').count() + 1
    }

    fn value_text(&self, attr: &Attr) -> &str {
        &self.text[attr.span.clone()]
    }

    /// The attribute `key` names: a dotted path, or a name that occurs once in the file.
    fn find(&self, key: &str, file: &TfFile) -> Result<&Attr, String> {
        let matches: Vec<&Attr> = self
            .attrs
            .iter()
            .filter(|a| a.path == key || a.name == key)
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(self.missing(key, file)),
            several => Err(format!(
                "`{key}` is ambiguous in {file}: it is set in {}; name one of these dotted paths",
                self.listing(several)
            )),
        }
    }

    fn missing(&self, key: &str, file: &TfFile) -> String {
        let name = key.rsplit('.').next().unwrap_or(key);
        let same_name: Vec<&Attr> = self.attrs.iter().filter(|a| a.name == name).collect();
        if !same_name.is_empty() {
            return format!(
                "no attribute `{key}` in {file}; attributes named {name}: {}",
                self.listing(&same_name)
            );
        }
        if self.attrs.is_empty() {
            return format!("no attribute `{key}` in {file}: it has no attributes");
        }
        let all: Vec<&Attr> = self.attrs.iter().collect();
        format!(
            "no attribute `{key}` in {file}; its attributes: {}",
            self.listing(&all)
        )
    }

    /// Plans setting `key` to the HCL literal `new_value`: the whole new text, verified.
    fn change(&self, key: &str, new_value: &str, file: &TfFile) -> HostResult<Change> {
        let attr = self.find(key, file).map_err(host_error)?;
        let before = self.value_text(attr);
        if before.contains('\n') {
            return Err(host_error(format!(
                "{} in {file} spans several lines: tf.set changes one-line values only; change it by hand",
                attr.path
            )));
        }
        let mut edits = vec![(attr.span.clone(), new_value.to_string())];
        edits.extend(self.comment_realignment(attr, new_value));
        let text = splice(&self.text, edits);
        let change = Change {
            path: attr.path.clone(),
            before: before.to_string(),
            after: new_value.to_string(),
            text,
        };
        self.verify(&change, file)?;
        Ok(change)
    }

    /// The new text must parse to the same attributes, only this one's value changed.
    fn verify(&self, change: &Change, file: &TfFile) -> HostResult<()> {
        let changed = TfSource::parse(change.text.clone(), file)?;
        let same_shape = changed.attrs.len() == self.attrs.len()
            && changed.attrs.iter().zip(&self.attrs).all(|(new, old)| {
                new.path == old.path
                    && (new.path == change.path || changed.value_text(new) == self.value_text(old))
            });
        let target_ok = changed
            .attrs
            .iter()
            .any(|a| a.path == change.path && changed.value_text(a) == change.after);
        if same_shape && target_ok {
            Ok(())
        } else {
            Err(host_error(format!(
                "setting {} in {file} would change more than that value (an ovscript bug): nothing was written",
                change.path
            )))
        }
    }

    /// The spacing changes before trailing comments that keep `terraform fmt`'s alignment when
    /// `attr`'s value becomes `new_value`. fmt aligns the comments of consecutive lines that all
    /// have one at the widest line's end + 1; a run that was not aligned that way is left as is.
    fn comment_realignment(&self, attr: &Attr, new_value: &str) -> Vec<(Range<usize>, String)> {
        let lines: HashMap<usize, AttrLine> = self
            .attrs
            .iter()
            .filter_map(|a| AttrLine::of(&self.text, a))
            .map(|line| (line.start, line))
            .collect();
        let Some(edited) = AttrLine::of(&self.text, attr) else {
            return Vec::new();
        };
        if edited.comment.is_none() {
            return Vec::new();
        }
        let run = self.comment_run(&lines, &edited);
        let end_column = |line: &AttrLine| self.column(line.start, line.value_end);
        let widest = run.iter().map(|l| end_column(l)).max().unwrap_or(0);
        let aligned = run.iter().all(|l| {
            let comment = l.comment.unwrap_or(l.value_end);
            self.column(l.start, comment) == widest + 1
                && self.text[l.value_end..comment].bytes().all(|b| b == b' ')
        });
        if !aligned {
            return Vec::new();
        }
        let old_width = self.value_text(attr).chars().count();
        let new_end_column = |line: &AttrLine| {
            let end = end_column(line);
            if line.start == edited.start {
                end - old_width + new_value.chars().count()
            } else {
                end
            }
        };
        let new_widest = run.iter().map(|l| new_end_column(l)).max().unwrap_or(0);
        run.iter()
            .filter_map(|line| {
                let gap = line.value_end..line.comment?;
                let spaces = new_widest + 1 - new_end_column(line);
                (gap.len() != spaces).then(|| (gap, " ".repeat(spaces)))
            })
            .collect()
    }

    /// The consecutive lines around `edited` that are attributes with a trailing comment.
    fn comment_run<'a>(
        &self,
        lines: &'a HashMap<usize, AttrLine>,
        edited: &AttrLine,
    ) -> Vec<&'a AttrLine> {
        let commented = |start: Option<usize>| {
            start
                .and_then(|s| lines.get(&s))
                .filter(|l| l.comment.is_some())
        };
        let mut run: Vec<&AttrLine> = Vec::new();
        let mut above = commented(self.previous_line(edited.start));
        while let Some(line) = above {
            run.push(line);
            above = commented(self.previous_line(line.start));
        }
        run.reverse();
        let mut current = lines.get(&edited.start);
        while let Some(line) = current {
            run.push(line);
            current = commented(self.next_line(line.start));
        }
        run
    }

    fn previous_line(&self, start: usize) -> Option<usize> {
        (start > 0).then(|| self.text[..start - 1].rfind('\n').map_or(0, |i| i + 1))
    }

    fn next_line(&self, start: usize) -> Option<usize> {
        let end = start + self.text[start..].find('\n')?;
        (end + 1 < self.text.len()).then_some(end + 1)
    }

    /// Characters, not bytes: fmt aligns what a reader sees.
    fn column(&self, line_start: usize, offset: usize) -> usize {
        self.text[line_start..offset].chars().count()
    }
}

fn collect_attributes(body: &Body, prefix: &mut Vec<String>, out: &mut Vec<Attr>) {
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                let (Some(span), Some(whole)) = (attr.value.span(), attr.span()) else {
                    continue; // parsed attributes always have spans
                };
                let name = attr.key.as_str().to_string();
                let path = prefix
                    .iter()
                    .map(String::as_str)
                    .chain([name.as_str()])
                    .collect::<Vec<_>>()
                    .join(".");
                out.push(Attr {
                    path,
                    name,
                    value: attr.value.clone(),
                    span,
                    start: whole.start,
                });
            }
            Structure::Block(block) => {
                let depth = prefix.len();
                prefix.push(block.ident.as_str().to_string());
                prefix.extend(block.labels.iter().map(|l| l.as_str().to_string()));
                collect_attributes(&block.body, prefix, out);
                prefix.truncate(depth);
            }
        }
    }
}

/// An attribute alone on its line: where the line starts, where the value ends, and where its
/// trailing comment starts, if it has one.
struct AttrLine {
    start: usize,
    value_end: usize,
    comment: Option<usize>,
}

impl AttrLine {
    fn of(text: &str, attr: &Attr) -> Option<AttrLine> {
        let start = text[..attr.start].rfind('\n').map_or(0, |i| i + 1);
        let value_end = attr.span.end;
        if !text[start..attr.start]
            .bytes()
            .all(|b| b == b' ' || b == b'\t')
            || text[attr.start..value_end].contains('\n')
        {
            return None;
        }
        let line_end = text[value_end..]
            .find('\n')
            .map_or(text.len(), |i| value_end + i);
        let rest = text[value_end..line_end].trim_start_matches([' ', '\t']);
        let comment = if ["#", "//", "/*"].iter().any(|c| rest.starts_with(c)) {
            Some(line_end - rest.len())
        } else if rest.trim_end().is_empty() {
            None
        } else {
            return None; // something else follows the value: not a plain attribute line
        };
        Some(AttrLine {
            start,
            value_end,
            comment,
        })
    }
}

/// Applies non-overlapping replacements to `text`.
fn splice(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = text.to_string();
    for (range, replacement) in edits {
        out.replace_range(range, &replacement);
    }
    out
}

/// One planned `set`: the values as HCL source, and the whole new text of the file.
struct Change {
    path: String,
    before: String,
    after: String,
    text: String,
}

impl Change {
    fn is_noop(&self) -> bool {
        self.before == self.after
    }
}

/// `false` for `true` and back: the safe value of a flag a block sets.
fn opposite_bool(literal: &str) -> Option<&'static str> {
    match literal {
        "true" => Some("false"),
        "false" => Some("true"),
        _ => None,
    }
}

/// The literal values `tf.get` returns.
enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Literal {
    fn into_dynamic(self) -> Dynamic {
        match self {
            Literal::Null => Dynamic::UNIT,
            Literal::Bool(b) => b.into(),
            Literal::Int(i) => i.into(),
            Literal::Float(f) => f.into(),
            Literal::Str(s) => s.into(),
        }
    }

    fn into_json(self) -> Value {
        match self {
            Literal::Null => Value::Null,
            Literal::Bool(b) => b.into(),
            Literal::Int(i) => i.into(),
            Literal::Float(f) => f.into(),
            Literal::Str(s) => s.into(),
        }
    }
}

fn literal(expr: &Expression) -> Option<Literal> {
    match expr {
        Expression::Null(_) => Some(Literal::Null),
        Expression::Bool(b) => Some(Literal::Bool(*b.value())),
        Expression::Number(n) => {
            let n = n.value();
            n.as_i64()
                .map(Literal::Int)
                .or_else(|| n.as_f64().map(Literal::Float))
        }
        Expression::String(s) => Some(Literal::Str(s.value().clone())),
        _ => None,
    }
}

/// A value's HCL source as journal JSON: the value itself, or the source text of an expression.
fn json_of(source: &str) -> Value {
    hcl_edit::parser::parse_expr(source)
        .ok()
        .as_ref()
        .and_then(literal)
        .map_or_else(|| Value::String(source.to_string()), Literal::into_json)
}

/// A script value as an HCL literal.
fn hcl_literal(value: &Dynamic) -> Result<String, String> {
    if let Ok(b) = value.as_bool() {
        return Ok(b.to_string());
    }
    if let Ok(i) = value.as_int() {
        return Ok(i.to_string());
    }
    if let Ok(f) = value.as_float() {
        return if f.is_finite() {
            // Debug keeps a fraction (`2.0`) so that a float stays a float when read back.
            Ok(format!("{f:?}"))
        } else {
            Err(format!("tf.set: {f} is not a number Terraform can hold"))
        };
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return Ok(hcl_string(&s));
    }
    Err(format!(
        "tf.set takes a bool, a number or a string, not {}",
        value.type_name()
    ))
}

/// A quoted HCL string whose value is exactly `s`: escapes, and `${`/`%{` doubled so that they
/// stay text instead of starting a template.
fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
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
