//! A parsed `.tf` file: every attribute of every block with its span, and the planned change of
//! one of them, spliced into the original text (see the module's documentation).

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;
use std::collections::HashMap;
use std::ops::Range;

use crate::error::{host_error, HostResult};

use super::TfFile;

/// One attribute of a file: its dotted path and where it is.
pub(super) struct Attr {
    /// `module.catalog-airflow.running_dags_cleared`: block types and labels, then the name.
    pub(super) path: String,
    pub(super) name: String,
    pub(super) value: Expression,
    /// The value's bytes.
    pub(super) span: Range<usize>,
    /// Where the attribute's name starts.
    pub(super) start: usize,
}

/// A parsed `.tf` file: its text and every attribute of every block, in file order.
pub(super) struct TfSource {
    pub(super) text: String,
    pub(super) attrs: Vec<Attr>,
}

impl TfSource {
    pub(super) fn parse(text: String, file: &TfFile) -> HostResult<TfSource> {
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
    pub(super) fn listing(&self, attrs: &[&Attr]) -> String {
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

    pub(super) fn line_of(&self, offset: usize) -> usize {
        self.text[..offset].matches('\n').count() + 1
    }

    pub(super) fn value_text(&self, attr: &Attr) -> &str {
        &self.text[attr.span.clone()]
    }

    /// The attribute `key` names: a dotted path, or a name that occurs once in the file.
    pub(super) fn find(&self, key: &str, file: &TfFile) -> Result<&Attr, String> {
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

    pub(super) fn missing(&self, key: &str, file: &TfFile) -> String {
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
    pub(super) fn change(&self, key: &str, new_value: &str, file: &TfFile) -> HostResult<Change> {
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
    pub(super) fn verify(&self, change: &Change, file: &TfFile) -> HostResult<()> {
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
    pub(super) fn comment_realignment(
        &self,
        attr: &Attr,
        new_value: &str,
    ) -> Vec<(Range<usize>, String)> {
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
    pub(super) fn comment_run<'a>(
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

    pub(super) fn previous_line(&self, start: usize) -> Option<usize> {
        (start > 0).then(|| self.text[..start - 1].rfind('\n').map_or(0, |i| i + 1))
    }

    pub(super) fn next_line(&self, start: usize) -> Option<usize> {
        let end = start + self.text[start..].find('\n')?;
        (end + 1 < self.text.len()).then_some(end + 1)
    }

    /// Characters, not bytes: fmt aligns what a reader sees.
    pub(super) fn column(&self, line_start: usize, offset: usize) -> usize {
        self.text[line_start..offset].chars().count()
    }
}

pub(super) fn collect_attributes(body: &Body, prefix: &mut Vec<String>, out: &mut Vec<Attr>) {
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
pub(super) struct AttrLine {
    pub(super) start: usize,
    pub(super) value_end: usize,
    pub(super) comment: Option<usize>,
}

impl AttrLine {
    pub(super) fn of(text: &str, attr: &Attr) -> Option<AttrLine> {
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
pub(super) fn splice(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = text.to_string();
    for (range, replacement) in edits {
        out.replace_range(range, &replacement);
    }
    out
}

/// One planned `set`: the values as HCL source, and the whole new text of the file.
pub(super) struct Change {
    pub(super) path: String,
    pub(super) before: String,
    pub(super) after: String,
    pub(super) text: String,
}

impl Change {
    pub(super) fn is_noop(&self) -> bool {
        self.before == self.after
    }
}
