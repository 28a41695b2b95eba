//! `ovscript runbook SCRIPT [--markdown]`: the runbook as a person reads it, generated from the
//! script without running it, so that the pages in `docs/runbooks/` say what is really done and
//! cannot drift from it (a test compares them with what the scripts generate).
//!
//! The script is compiled as a run compiles it, then read statement by statement (`walk`): its
//! steps in order, what each does that a person would do by hand, the stdlib functions it calls
//! (read where they do something), and its options; its comments give the title, the usage, what
//! each option does and the headings (`// Setup`).

mod outline;
mod render;
mod source;
mod units;
mod value;
mod walk;

use std::path::Path;

use crate::engine::Runtime;
use crate::error::Error;

use self::outline::{flatten, Item};
use self::render::Format;
use self::value::Value;

/// A runbook's page, ready to render.
pub struct Page {
    /// The script as given on the command line.
    script: String,
    title: String,
    intro: Vec<String>,
    usage: Vec<String>,
    options: Vec<OptionRow>,
    sections: Vec<Section>,
}

struct OptionRow {
    /// As the header writes it (`--rollback=workflow|local`), else `--name=VALUE`.
    spec: String,
    default: String,
    /// The default is a value (`30m`), not a word (`off`, `none`).
    literal: bool,
    what: String,
}

/// A part of the runbook under its heading (none before the first one).
struct Section {
    title: Option<String>,
    note: String,
    items: Vec<Item>,
}

/// Prints the page of `script`, compiled with `runtime`'s engine (nothing runs).
pub fn show(runtime: &Runtime, script: &Path, markdown: bool) -> Result<(), Error> {
    let format = if markdown {
        Format::Markdown
    } else {
        Format::Text
    };
    let page = page(runtime, script)?;
    // A secret written into a runbook (a token pasted in a string) is not published by its page.
    crate::ui::out(&runtime.ctx.redact(&render::render(&page, format)));
    Ok(())
}

/// `ovscript run SCRIPT --help`: the runbook's title, usage and options, from its page; nothing
/// runs and nothing is journaled.
pub fn help(runtime: &Runtime, script: &Path) -> Result<(), Error> {
    let page = page(runtime, script)?;
    let mut text = render::render_options_only(&page);
    text.push_str(&format!("Its steps: ovscript runbook {}\n", page.script));
    crate::ui::out(&runtime.ctx.redact(&text));
    Ok(())
}

/// The page of `script`.
fn page(runtime: &Runtime, script: &Path) -> Result<Page, Error> {
    let shown = script.display().to_string();
    let shown = shown.strip_prefix("./").unwrap_or(&shown).to_string();
    let text = crate::script_file::read(script).map_err(|e| Error::usage(format!("error: {e}")))?;
    let ast = runtime
        .compile(&shown, &text)
        .map_err(|e| Error::Compile(crate::diagnostic::parse_report(&e, &shown)))?;
    let units = units::load(runtime, script, &ast)?;
    let hosts: Vec<(String, String)> = runtime
        .objects
        .names()
        .filter(|n| *n != "args")
        .filter_map(|n| {
            Some((
                n.to_string(),
                runtime.objects.get(n)?.type_name().to_string(),
            ))
        })
        .collect();
    let mut walker = walk::Walker::new(&units, &hosts);
    let items = flatten(walker.script());
    let header = source::header(&text);
    let title = if header.title.is_empty() {
        script
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| shown.clone())
    } else {
        header.title.clone()
    };
    Ok(Page {
        options: option_rows(&walker.options, &header.options),
        sections: sections(items, source::headings(&text)),
        script: shown,
        title,
        intro: header.intro,
        usage: header.usage,
    })
}

/// The options in the order the header describes them, then any it does not.
fn option_rows(specs: &[walk::OptionSpec], described: &[(String, String)]) -> Vec<OptionRow> {
    let described_as = |name: &str| {
        described.iter().position(|(spec, _)| {
            spec.strip_prefix("--")
                .and_then(|s| s.strip_prefix(name))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
        })
    };
    let mut specs: Vec<&walk::OptionSpec> = specs.iter().collect();
    specs.sort_by_key(|s| (described_as(&s.name).unwrap_or(usize::MAX), s.name.clone()));
    specs
        .into_iter()
        .map(|option| {
            let (spec, what) = match described_as(&option.name) {
                Some(i) => described[i].clone(),
                None => {
                    let spec = match (&option.default, option.duration) {
                        (Value::Bool(_), _) => format!("--{}", option.name),
                        (_, true) => format!("--{}=DURATION", option.name),
                        _ => format!("--{}=VALUE", option.name),
                    };
                    (spec, String::new())
                }
            };
            let (default, literal) = match &option.default {
                Value::Bool(false) => ("off".to_string(), false),
                Value::Str(s) if s.is_empty() => ("none".to_string(), false),
                other => (other.shown(), true),
            };
            OptionRow {
                spec,
                default,
                literal,
                what,
            }
        })
        .collect()
}

/// The items under the headings that come before them in the script.
fn sections(items: Vec<Item>, headings: Vec<source::Heading>) -> Vec<Section> {
    let mut sections = vec![Section {
        title: None,
        note: String::new(),
        items: Vec::new(),
    }];
    let mut headings = headings.into_iter().peekable();
    for item in items {
        while let Some(heading) = headings.next_if(|h| h.line < item.line) {
            sections.push(Section {
                title: Some(heading.title),
                note: heading.note,
                items: Vec::new(),
            });
        }
        if let Some(section) = sections.last_mut() {
            section.items.push(item);
        }
    }
    sections.retain(|s| !s.items.is_empty());
    sections
}
