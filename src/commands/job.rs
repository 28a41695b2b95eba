//! At the end of a run in a GitHub Actions job: the job summary (the runbook, the release, each
//! step with its outcome and duration, what is left by hand, the links, how to go on) and the
//! step's outputs (run id, outcome, release tag, infrastructure PR).

use crate::context::Ctx;
use crate::journal::{Event, Outcome};

/// What a job is told of the run that ended with `outcome`; `again` is the command that goes
/// on with it (`{}` for the run id). Failing to write is a warning: the run's own outcome stands.
pub fn report(ctx: &Ctx, script: &str, outcome: Outcome, again: &str) {
    if !crate::actions::active() {
        return;
    }
    let run_id = ctx.journal.run_id().to_string();
    let mut release = String::new();
    let mut links = Vec::new();
    let mut infra_pr = String::new();
    for event in ctx.journal.events() {
        match event {
            Event::GithubReleasePublished { repo, tag, .. } => {
                links.push(format!(
                    "release [{tag}](https://github.com/{repo}/releases/tag/{tag})"
                ));
                release = tag;
            }
            Event::GithubPrApproved { repo, number } => links.push(format!(
                "changelog PR [#{number}](https://github.com/{repo}/pull/{number}) approved"
            )),
            Event::GithubPrOpened {
                repo,
                number,
                html_url,
            } => {
                let url = html_url
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("https://github.com/{repo}/pull/{number}"));
                links.push(format!("infrastructure PR [#{number}]({url})"));
                infra_pr = url;
            }
            _ => {}
        }
    }
    let mut md = format!(
        "## ovscript: `{}`\n\nRun `{run_id}`: **{outcome}**{}\n\n| step | outcome | took |\n| --- | --- | --- |\n",
        cell(script),
        if release.is_empty() {
            String::new()
        } else {
            format!(", release `{release}`")
        }
    );
    for step in ctx.summary.steps() {
        md.push_str(&format!(
            "| {} {} | {} | {} |\n",
            cell(&step.label),
            cell(&step.title),
            step.outcome,
            crate::ui::human(step.took)
        ));
    }
    let by_hand = ctx.summary.left_by_hand();
    if !by_hand.is_empty() {
        md.push_str("\n**Left to do by hand:**\n\n");
        for item in &by_hand {
            md.push_str(&format!("- {item}\n"));
        }
    }
    if !links.is_empty() {
        md.push_str(&format!("\n{}\n", links.join(" · ")));
    }
    if !outcome.is_ok() {
        md.push_str(&format!(
            "\nTo go on with this run: `{}`\n",
            again.replace("{}", &run_id)
        ));
    }
    let md = ctx.redact(&md);
    let outputs = [
        ("run_id", run_id),
        ("outcome", outcome.to_string()),
        ("release_tag", release),
        ("infra_pr_url", infra_pr),
    ]
    .map(|(name, value)| (name, ctx.redact(&value)));
    for written in [
        crate::actions::summary(&md),
        crate::actions::outputs(&outputs),
    ] {
        if let Err(problem) = written {
            ctx.warn(&format!("the job was not told of this run: {problem}"));
        }
    }
}

/// Text for a Markdown table's cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
