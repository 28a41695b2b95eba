//! What a runbook page takes from the script's comments, which the AST does not keep: the
//! header (a title, what the runbook is, how to run it, what each option does) and the
//! `// Setup`-style comments that head its parts.

/// The comment block at the top of a script.
#[derive(Debug, Default, PartialEq)]
pub struct Header {
    /// `Catalog (Airflow) deployment`: the header's first line, up to its first `: `.
    pub title: String,
    /// The rest of the first paragraph, and any other paragraph of prose.
    pub intro: Vec<String>,
    /// The indented `ovscript run ...` lines.
    pub usage: Vec<String>,
    /// Under `Options:`: each option as written there (`--watch=DURATION`) and what it does.
    pub options: Vec<(String, String)>,
}

/// A comment that heads a part of the script: a `//` block that follows a blank line.
#[derive(Debug, PartialEq)]
pub struct Heading {
    pub line: usize,
    /// `Deployment`: its first line up to a `,` or a `(`.
    pub title: String,
    /// The rest of it, as sentences: `Production only, after the app is built and tagged.`
    pub note: String,
}

/// The text of a `//` comment line (not a `///` doc comment), without its slashes.
fn comment(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("//")?;
    if rest.starts_with('/') {
        return None;
    }
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

pub fn header(text: &str) -> Header {
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| l.starts_with("#!") || l.trim().is_empty())
        .map_while(comment)
        .collect();
    let mut header = Header::default();
    for paragraph in lines.split(|l| l.trim().is_empty()) {
        let Some(first) = paragraph.first() else {
            continue;
        };
        if first.trim_end() == "Options:" {
            read_options(&paragraph[1..], &mut header.options);
        } else if first.starts_with("  ") {
            header
                .usage
                .extend(paragraph.iter().map(|l| l.trim().to_string()));
        } else if header.title.is_empty() {
            let prose = paragraph.join(" ");
            let (title, rest) = prose.split_once(": ").unwrap_or((&prose, ""));
            header.title = title.trim().to_string();
            if !rest.trim().is_empty() {
                header.intro.push(sentence(rest));
            }
        } else {
            header.intro.push(sentence(&paragraph.join(" ")));
        }
    }
    header
}

/// `  --watch=DURATION   watch Sentry ...` lines, a longer description going on below, indented.
fn read_options(lines: &[&str], options: &mut Vec<(String, String)>) {
    for line in lines {
        let trimmed = line.trim();
        if trimmed.starts_with("--") {
            let (spec, what) = trimmed
                .split_once("  ")
                .map_or((trimmed, ""), |(s, w)| (s, w.trim()));
            options.push((spec.to_string(), what.to_string()));
        } else if let Some((_, what)) = options.last_mut() {
            what.push(' ');
            what.push_str(trimmed);
        }
    }
}

/// The headings of the script, in order: comment blocks after a blank line, past the header.
pub fn headings(text: &str) -> Vec<Heading> {
    let lines: Vec<&str> = text.lines().collect();
    let body_start = lines
        .iter()
        .position(|l| !l.trim().is_empty() && comment(l).is_none() && !l.starts_with("#!"))
        .unwrap_or(lines.len());
    let mut headings = Vec::new();
    let mut i = body_start;
    while i < lines.len() {
        let after_blank = i > 0 && lines[i - 1].trim().is_empty();
        let Some(first) = comment(lines[i]).filter(|_| after_blank) else {
            i += 1;
            continue;
        };
        let mut block = vec![first.trim()];
        let line = i + 1;
        i += 1;
        while let Some(more) = lines.get(i).and_then(|l| comment(l)) {
            block.push(more.trim());
            i += 1;
        }
        headings.push(heading(line, &block.join(" ")));
    }
    headings
}

fn heading(line: usize, text: &str) -> Heading {
    let cut = text.find([',', '(', '.', ':']).unwrap_or(text.len());
    let title = text[..cut].trim().to_string();
    let rest = text[cut..]
        .trim_start_matches([',', '.', ':', ' '])
        .replacen('(', "", 1)
        .replacen(')', "", 1);
    Heading {
        line,
        title,
        note: if rest.trim().is_empty() {
            String::new()
        } else {
            sentence(&rest)
        },
    }
}

/// `the app is built` as a sentence: `The app is built.`
fn sentence(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = r#"// Catalog deployment: the runbook, step by step.
//
//   ovscript run scripts/catalog.rhai [-- OPTIONS]
//
// Options:
//   --watch=DURATION             watch Sentry this long
//   --rollback=workflow|local    how to roll back: dispatch the workflow
//                                (default), or apply from here
//
// Read it with care.

import "deploy" as deploy;
let x = 1; // not a heading
// nor this, after code

// Setup
let a = 2;

// Deployment (production only), after the app is built. The channel is told
// when it starts.
let b = 3;
    /// a doc comment is no heading
"#;

    #[test]
    fn the_header_gives_title_usage_and_options() {
        let header = header(SCRIPT);
        assert_eq!(header.title, "Catalog deployment");
        assert_eq!(
            header.intro,
            ["The runbook, step by step.", "Read it with care."]
        );
        assert_eq!(
            header.usage,
            ["ovscript run scripts/catalog.rhai [-- OPTIONS]"]
        );
        assert_eq!(
            header.options,
            [
                (
                    "--watch=DURATION".to_string(),
                    "watch Sentry this long".to_string()
                ),
                (
                    "--rollback=workflow|local".to_string(),
                    "how to roll back: dispatch the workflow (default), or apply from here"
                        .to_string()
                ),
            ]
        );
    }

    #[test]
    fn comments_after_a_blank_line_head_the_parts() {
        let headings = headings(SCRIPT);
        assert_eq!(
            headings,
            [
                Heading {
                    line: 16,
                    title: "Setup".into(),
                    note: String::new()
                },
                Heading {
                    line: 19,
                    title: "Deployment".into(),
                    note: "Production only, after the app is built. The channel is told when it starts.".into()
                },
            ]
        );
    }
}
