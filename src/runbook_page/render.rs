//! A runbook page as text for the terminal or as Markdown for `docs/runbooks/`: the same page,
//! only the marks differ.

use super::outline::{Item, Kind};
use super::Page;

#[derive(Clone, Copy, PartialEq)]
pub enum Format {
    Text,
    Markdown,
}

pub fn render(page: &Page, format: Format) -> String {
    let md = format == Format::Markdown;
    let mut out = String::new();
    heading(&mut out, 1, &page.title, format);
    for paragraph in &page.intro {
        out.push_str(&format!("{paragraph}\n\n"));
    }
    let command = format!("ovscript runbook --markdown {}", page.script);
    if md {
        out.push_str(&format!(
            "_Generated from `{}` by `{command}`, without running it: edit the script, then generate this page again._\n\n",
            page.script
        ));
    } else {
        out.push_str(&format!(
            "Generated from {} without running it.\n\n",
            page.script
        ));
    }
    if !page.usage.is_empty() {
        if md {
            out.push_str("```sh\n");
            for line in &page.usage {
                out.push_str(&format!("{line}\n"));
            }
            out.push_str("```\n\n");
        } else {
            for line in &page.usage {
                out.push_str(&format!("    {line}\n"));
            }
            out.push('\n');
        }
    }
    options(&mut out, page, format);
    for section in &page.sections {
        if let Some(title) = &section.title {
            heading(&mut out, 2, title, format);
        }
        if !section.note.is_empty() {
            out.push_str(&format!("{}\n\n", section.note));
        }
        for (i, item) in section.items.iter().enumerate() {
            let marker = format!("{}. ", i + 1);
            write_item(&mut out, item, "", &marker, format);
        }
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The title, the usage and the options, for `ovscript run SCRIPT --help`.
pub fn render_options_only(page: &Page) -> String {
    let mut out = String::new();
    heading(&mut out, 1, &page.title, Format::Text);
    for line in &page.usage {
        out.push_str(&format!("    {line}\n"));
    }
    if !page.usage.is_empty() {
        out.push('\n');
    }
    if page.options.is_empty() {
        out.push_str("It takes no options.\n\n");
    }
    options(&mut out, page, Format::Text);
    out
}

fn heading(out: &mut String, level: usize, title: &str, format: Format) {
    match format {
        Format::Markdown => out.push_str(&format!("{} {title}\n\n", "#".repeat(level))),
        Format::Text => {
            let rule = if level == 1 { "=" } else { "-" };
            out.push_str(&format!(
                "{title}\n{}\n\n",
                rule.repeat(title.chars().count())
            ));
        }
    }
}

fn options(out: &mut String, page: &Page, format: Format) {
    if page.options.is_empty() {
        return;
    }
    heading(out, 2, "Options", format);
    match format {
        Format::Markdown => {
            out.push_str("| option | default | what it does |\n| --- | --- | --- |\n");
            for row in &page.options {
                let cell = |text: &str| text.replace('|', "\\|");
                let default = if row.literal {
                    format!("`{}`", cell(&row.default))
                } else {
                    cell(&row.default)
                };
                out.push_str(&format!(
                    "| `{}` | {default} | {} |\n",
                    cell(&row.spec),
                    cell(&row.what)
                ));
            }
        }
        Format::Text => {
            let width = page.options.iter().map(|r| r.spec.len()).max().unwrap_or(0);
            let default_width = page
                .options
                .iter()
                .map(|r| r.default.len())
                .max()
                .unwrap_or(0);
            for row in &page.options {
                out.push_str(
                    format!(
                        "  {:width$}  {:default_width$}  {}",
                        row.spec, row.default, row.what
                    )
                    .trim_end(),
                );
                out.push('\n');
            }
        }
    }
    out.push('\n');
}

/// One item at `indent`, with its marker (`3. ` or `- `), and what is nested in it below.
fn write_item(out: &mut String, item: &Item, indent: &str, marker: &str, format: Format) {
    out.push_str(&format!("{indent}{marker}{}\n", line_of(item, format)));
    let inner = format!("{indent}{}", " ".repeat(marker.len()));
    for child in &item.items {
        write_item(out, child, &inner, "- ", format);
    }
}

fn line_of(item: &Item, format: Format) -> String {
    let strong = |text: &str| match format {
        Format::Markdown => format!("**{text}**"),
        Format::Text => text.to_string(),
    };
    match item.kind {
        Kind::Step => strong(&item.text),
        Kind::Check => format!(
            "{} (a check: it runs again on `--resume`)",
            strong(&item.text)
        ),
        Kind::If => format!("If {}:", item.text),
        Kind::Unless => format!("Unless {}:", item.text),
        Kind::Otherwise => "Otherwise:".into(),
        Kind::IfFails => "If it fails:".into(),
        Kind::Finally => "Then, whatever happened:".into(),
        Kind::Loop => format!("{}:", capitalized(&item.text)),
        Kind::Call | Kind::Action => capitalized(&item.text),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
