//! The runbooks edited as a careless maintainer would: every statement deleted in turn, every
//! two neighbouring statements swapped, every `check_step` made a plain `step`. Each mutant is
//! rehearsed, and whatever it does, it either refuses cleanly or deploys with every invariant
//! the host promises held: no production change before the run holds the lock, the clearance
//! flag `true` during each production apply and `false` at the end, no DAG left paused, no
//! commit holding the flag `true`.

use ovscript::journal::Event;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use crate::rehearsal::repo_file;
use crate::test::{journal_events, Test};

/// A statement of a runbook: its first and last line (0-based, inclusive) and the block it
/// belongs to (0 for the script's top level), so that siblings can be swapped.
#[derive(Debug, Clone, Copy)]
struct Statement {
    first: usize,
    last: usize,
    block: usize,
}

/// The statements of a Rhai script, nested ones too, found by their brackets: a statement
/// starts on a line inside a block (not inside a map, a call's arguments or an array) and ends
/// on the line where its brackets close with `;` or `}`.
fn statements(text: &str) -> Vec<Statement> {
    // '{' a block (with its id), '#' a map, '(' and '[' the others.
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut blocks = 0;
    let mut open: Vec<(usize, usize, usize)> = Vec::new(); // (first line, depth, block)
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let in_block = stack.last().is_none_or(|(kind, _)| *kind == '{');
        let depth = stack.len();
        let starts = in_block
            && !trimmed.is_empty()
            && !trimmed.starts_with("//")
            && !trimmed.starts_with(['}', ')', ']'])
            && open.last().is_none_or(|(_, d, _)| *d < depth);
        if starts {
            let block = stack.last().map_or(0, |(_, id)| *id);
            open.push((n, depth, block));
        }
        let code = scan(line, &mut stack, &mut blocks);
        // A block's last expression (`healthy` before `});`) has no `;`: it ended on the line
        // before the one that closes its block.
        while let Some(&(first, d, block)) = open.last() {
            if d <= stack.len() {
                break;
            }
            open.pop();
            found.push(Statement {
                first,
                last: n.saturating_sub(1).max(first),
                block,
            });
        }
        let ends = code.ends_with(';') || code.ends_with('}');
        if let Some(&(first, d, block)) = open.last() {
            if d == stack.len() && ends {
                open.pop();
                found.push(Statement {
                    first,
                    last: n,
                    block,
                });
            }
        }
    }
    found.sort_by_key(|s| s.first);
    found
}

/// Follows the brackets of one line (strings and comments skipped); returns the line's code
/// without its comment, trimmed.
fn scan(line: &str, stack: &mut Vec<(char, usize)>, blocks: &mut usize) -> String {
    let mut code = String::new();
    let mut chars = line.chars().peekable();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        match c {
            '"' | '`' => {
                code.push(c);
                let mut escaped = false;
                for inner in chars.by_ref() {
                    code.push(inner);
                    if inner == c && !escaped {
                        break;
                    }
                    escaped = inner == '\\' && !escaped;
                }
                previous = c;
                continue;
            }
            '/' if chars.peek() == Some(&'/') => break,
            '{' if previous == '#' => stack.push(('#', 0)),
            '{' => {
                *blocks += 1;
                stack.push(('{', *blocks));
            }
            '(' | '[' => stack.push((c, 0)),
            '}' | ')' | ']' => {
                stack.pop();
            }
            _ => {}
        }
        code.push(c);
        if !c.is_whitespace() {
            previous = c;
        }
    }
    code.trim().to_string()
}

/// Every mutant of `text`, each with a line saying what was changed.
fn mutants(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let join = |lines: Vec<&str>| lines.join("\n") + "\n";
    let found = statements(text);
    let mut all = Vec::new();
    for s in &found {
        let mut kept = lines[..s.first].to_vec();
        kept.extend(&lines[s.last + 1..]);
        all.push((
            format!("deleted line {}: {}", s.first + 1, lines[s.first].trim()),
            join(kept),
        ));
    }
    for pair in found.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.block != b.block || a.last >= b.first {
            continue;
        }
        let mut swapped = lines[..a.first].to_vec();
        swapped.extend(&lines[b.first..=b.last]);
        swapped.extend(&lines[a.last + 1..b.first]);
        swapped.extend(&lines[a.first..=a.last]);
        swapped.extend(&lines[b.last + 1..]);
        all.push((
            format!(
                "swapped lines {} and {}: {} / {}",
                a.first + 1,
                b.first + 1,
                lines[a.first].trim(),
                lines[b.first].trim()
            ),
            join(swapped),
        ));
    }
    for (n, line) in lines.iter().enumerate() {
        if line.contains("check_step(") {
            let mut changed = lines.clone();
            let plain = line.replace("check_step(", "step(");
            changed[n] = &plain;
            all.push((
                format!("check_step made step, line {}", n + 1),
                join(changed),
            ));
        }
    }
    all
}

/// What one rehearsed mutant did.
enum Outcome {
    Deployed,
    Refused(i32),
}

/// Rehearses `script` in `scenario` and checks every invariant; `Err` says which failed.
fn rehearse_and_judge(script: &str, scenario: &str, service: &str) -> Result<Outcome, String> {
    let test = Test::new()
        .env(
            "PATH",
            &crate::test::path_with(&crate::test::tools_bin().unwrap()),
        )
        .file("runbook.rhai", script);
    std::os::unix::fs::symlink(repo_file("stdlib"), test.path().join("stdlib")).unwrap();
    let mut command = test.prepare(&[
        "run",
        &format!("--rehearse={scenario}"),
        "--yes",
        "runbook.rhai",
    ]);
    let child = command.spawn().unwrap();
    let output = finish_within(child, Duration::from_secs(120))?;
    let code = output.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !matches!(code, 0..=2) || stderr.contains("panicked") {
        return Err(format!("exit {code}, not a clean refusal: {stderr}"));
    }
    if code != 0 && stderr.trim().is_empty() {
        return Err(format!("exit {code} without a word"));
    }
    let events = journal_events(test.path());
    let mut locked = false;
    for event in &events {
        let change = match event {
            Event::LockTaken { .. } => {
                locked = true;
                None
            }
            Event::LockReleased { .. } => {
                locked = false;
                None
            }
            Event::JustStart { recipe, args } if args.iter().any(|a| a == "prod") => {
                Some(format!("just {recipe} {}", args.join(" ")))
            }
            Event::Http {
                service,
                method,
                url,
                ..
            } if !matches!(method.as_str(), "GET" | "HEAD")
                && service != "slack"
                && !url.ends_with("/auth/token") =>
            {
                Some(format!("{method} {url}"))
            }
            Event::AirflowPause {
                dag_id,
                is_paused: true,
                ..
            } => Some(format!("pause {dag_id}")),
            _ => None,
        };
        if let (Some(change), false) = (change, locked) {
            return Err(format!("{change} without the deploy lock"));
        }
    }
    let Some(rehearsals) = std::fs::read_dir(test.path().join(".ovscript/rehearsals"))
        .ok()
        .and_then(|mut dirs| dirs.next())
    else {
        // A mutant that does not compile never reaches the world.
        return Ok(Outcome::Refused(code));
    };
    let dir = rehearsals.unwrap().path();
    let world: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("world.json")).unwrap()).unwrap();
    for recipe in world["recipes"].as_array().into_iter().flatten() {
        if recipe["recipe"] == "apply" && recipe["env"] == "prod" && recipe["flag"] != true {
            return Err(format!(
                "a production apply ran with the flag {}",
                recipe["flag"]
            ));
        }
    }
    let paused: BTreeMap<String, Value> =
        serde_json::from_value(world["paused"].clone()).unwrap_or_default();
    if let Some((dag, _)) = paused.iter().find(|(_, state)| **state == true) {
        return Err(format!("{dag} left paused"));
    }
    let infra = dir.join("infra");
    let tf =
        std::fs::read_to_string(infra.join(format!("environments/prod/{service}.tf"))).unwrap();
    if tf.lines().any(sets_a_flag_true) {
        return Err("the clearance flag left true".into());
    }
    let history = git(&infra, &["log", "--all", "-p"]);
    if history
        .lines()
        .any(|l| l.strip_prefix('+').is_some_and(sets_a_flag_true))
    {
        return Err("a commit holds the clearance flag true".into());
    }
    Ok(if code == 0 {
        Outcome::Deployed
    } else {
        Outcome::Refused(code)
    })
}

/// `running_dags_cleared = true`, a comment after it or not.
fn sets_a_flag_true(line: &str) -> bool {
    let code = line.split('#').next().unwrap_or_default();
    let Some((key, value)) = code.split_once('=') else {
        return false;
    };
    key.trim().ends_with("_cleared") && value.trim() == "true"
}

fn finish_within(
    child: std::process::Child,
    limit: Duration,
) -> Result<std::process::Output, String> {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(limit)
        .map(|output| output.unwrap())
        .map_err(|_| {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            format!("still running after {limit:?}: a mutant must end, not hang")
        })
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every mutant of a runbook, rehearsed two at a time; the counts are printed, every broken
/// invariant listed.
fn check_every_mutant(runbook: &str, scenario: &str, service: &str) {
    if crate::test::tools_bin().is_none() {
        return;
    }
    let text = std::fs::read_to_string(repo_file(&format!("scripts/{runbook}.rhai"))).unwrap();
    let all = mutants(&text);
    let next = Mutex::new(all.iter());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let Some((what, script)) = next.lock().unwrap().next() else {
                    break;
                };
                let outcome = rehearse_and_judge(script, scenario, service);
                results.lock().unwrap().push((what.clone(), outcome));
            });
        }
    });
    let results = results.into_inner().unwrap();
    let mut refused: BTreeMap<i32, usize> = BTreeMap::new();
    let mut deployed = 0;
    let mut broken = Vec::new();
    for (what, outcome) in &results {
        match outcome {
            Ok(Outcome::Deployed) => deployed += 1,
            Ok(Outcome::Refused(code)) => *refused.entry(*code).or_default() += 1,
            Err(why) => broken.push(format!("{what}: {why}")),
        }
    }
    println!(
        "{runbook} ({scenario}): {} mutants: {deployed} deployed with every invariant held, refused {refused:?} (exit code: count), {} broke an invariant",
        results.len(),
        broken.len()
    );
    assert!(results.len() >= 40, "too few mutants: {}", results.len());
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn statements_are_found_with_their_blocks() {
    let text = "let a = f(#{\n    x: 1,\n});\nstep(\"s\", || {\n    g();\n    if x {\n        h();\n    } else {\n        i();\n    }\n});\n// done\n";
    let found: Vec<(usize, usize)> = statements(text).iter().map(|s| (s.first, s.last)).collect();
    assert_eq!(found, [(0, 2), (3, 10), (4, 4), (5, 9), (6, 6), (8, 8)]);
    let swaps = mutants(text)
        .into_iter()
        .filter(|(what, _)| what.starts_with("swapped"))
        .count();
    assert_eq!(swaps, 2, "top level a/step, and g()/if inside the step");
}

#[test]
fn every_mutant_of_the_catalog_runbook_refuses_or_deploys_safely() {
    check_every_mutant("catalog", "sensor-waiting", "catalog-airflow");
}

#[test]
fn every_mutant_of_the_ingestion_runbook_refuses_or_deploys_safely() {
    check_every_mutant("ingestion", "calm", "ingestion-server");
}

/// The judge is not blind: a script that leaves a DAG paused is caught by it.
#[test]
fn the_judge_sees_a_broken_invariant() {
    if crate::test::tools_bin().is_none() {
        return;
    }
    let script = format!(
        "{}\nairflow.pause(\"image_data_refresh\");\n",
        crate::test::TAKES_OVER
    );
    match rehearse_and_judge(&script, "calm", "catalog-airflow") {
        Err(why) => assert_eq!(why, "image_data_refresh left paused"),
        Ok(_) => panic!("a DAG left paused went unseen"),
    }
}
