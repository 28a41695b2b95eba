//! The releases and pull requests the fake GitHub starts with (see the world's documentation).

use chrono::{DateTime, Duration as Span, TimeZone, Utc};

use super::*;

pub(super) fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid date")
}

/// Openverse release tags: `{app}-{%Y.%m.%d.%H.%M.%S}`.
pub(super) fn tag(app: &str, t: DateTime<Utc>) -> String {
    format!("{app}-{}", t.format("%Y.%m.%d.%H.%M.%S"))
}

/// Releases in creation order. Release-drafter keeps one draft per app and edits it on every
/// push, so a draft keeps the creation time of the day after its app's last release: the
/// catalog and ingestion-server drafts are older than the 110 api and frontend releases made
/// since, so they are not on the first page, newest first, even with `per_page=100`.
pub(super) fn seed_releases() -> Vec<Release> {
    let mut list: Vec<(String, bool, DateTime<Utc>)> = Vec::new();
    let apps = ["api", "frontend", "catalog", "ingestion_server"];
    let start = at(2024, 1, 2, 14, 0);
    for i in 0..32 {
        let t = start + Span::hours(67 * i);
        list.push((tag(apps[i as usize % 4], t), false, t));
    }
    list.push((
        tag("catalog", at(2024, 4, 1, 12, 0)),
        false,
        at(2024, 4, 1, 12, 0),
    ));
    list.push((
        "catalog-2024.05.02.10.00.00".into(),
        true,
        at(2024, 4, 1, 12, 6),
    ));
    list.push((
        tag("ingestion_server", at(2024, 4, 2, 9, 30)),
        false,
        at(2024, 4, 2, 9, 30),
    ));
    list.push((
        "ingestion_server-2024.05.02.10.05.00".into(),
        true,
        at(2024, 4, 2, 9, 36),
    ));
    let start = at(2024, 4, 3, 10, 0);
    for i in 0..110 {
        let t = start + Span::hours(6 * i);
        list.push((tag(apps[i as usize % 2], t), false, t));
    }
    list.push((
        "api-2024.05.02.09.00.00".into(),
        true,
        at(2024, 4, 30, 22, 0),
    ));
    list.push((
        "frontend-2024.05.02.09.10.00".into(),
        true,
        at(2024, 4, 30, 23, 0),
    ));
    list.into_iter()
        .enumerate()
        .map(|(i, (tag, draft, created_at))| Release {
            id: 150_100_000 + i as u64,
            body: release_body(&tag, draft),
            tag,
            draft,
            created_at,
            published_at: (!draft).then(|| created_at + Span::minutes(4)),
        })
        .collect()
}

pub(super) fn release_body(tag: &str, draft: bool) -> String {
    let app = tag.rsplit_once('-').map_or(tag, |(app, _)| app);
    if draft {
        format!(
            "## New Features\n\n- Add the {app} health report to the deployment summary (#4211) @openverse-contributor\n\n\
             ## Bug Fixes\n\n- Retry {app} requests that time out (#4218) @openverse-contributor\n\n\
             ## Internal Improvements\n\n- Bump dependencies of {app} (#4225) @dependabot\n"
        )
    } else {
        format!("## Internal Improvements\n\n- Routine release of {app}.\n")
    }
}

/// Pull requests already in the monorepo: merged changelog PRs of past releases, and open PRs
/// (one of them another app's changelog PR), so that a loose search finds the wrong one.
pub(super) fn seed_pulls() -> Vec<Pull> {
    let pull = |number,
                title: String,
                user: &str,
                head: String,
                labels: Vec<&'static str>,
                created: DateTime<Utc>,
                merged: Option<DateTime<Utc>>| Pull {
        number,
        body: format!("{title}."),
        title,
        user: user.into(),
        head,
        base: "main".into(),
        labels,
        open: merged.is_none(),
        merged_at: merged,
        created_at: created,
        reviews: Vec::new(),
    };
    let changelog = |t: &str| {
        (
            format!("Publish changelog for {t}"),
            format!("changelog/{t}"),
        )
    };
    let (c_title, c_head) = changelog("catalog-2024.04.01.12.00.00");
    let (i_title, i_head) = changelog("ingestion_server-2024.04.02.09.30.00");
    let (f_title, f_head) = changelog("frontend-2024.04.30.16.00.00");
    let skip = vec!["skip-changelog"];
    vec![
        pull(
            4100,
            c_title,
            BOT,
            c_head,
            skip.clone(),
            at(2024, 4, 1, 12, 10),
            Some(at(2024, 4, 1, 15, 0)),
        ),
        pull(
            4101,
            i_title,
            BOT,
            i_head,
            skip.clone(),
            at(2024, 4, 2, 9, 40),
            Some(at(2024, 4, 2, 11, 0)),
        ),
        pull(
            4230,
            "Bump sentry-sdk from 1.45.0 to 2.0.1 in /catalog".into(),
            "dependabot[bot]",
            "dependabot/pip/catalog/sentry-sdk-2.0.1".into(),
            vec!["🧰 goal: internal improvement"],
            at(2024, 4, 29, 3, 0),
            None,
        ),
        pull(
            4235,
            "Add iNaturalist 2024 taxonomy".into(),
            "openverse-contributor",
            "add/inaturalist-taxonomy-2024".into(),
            vec!["🌟 goal: addition"],
            at(2024, 4, 29, 17, 30),
            None,
        ),
        pull(
            4240,
            f_title,
            BOT,
            f_head,
            skip,
            at(2024, 4, 30, 16, 10),
            None,
        ),
    ]
}

/// A 40-hex-digit id derived from a string (FNV-1a), for commit shas.
pub(super) fn sha(seed: &str) -> String {
    let mut out = String::new();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for round in 0..3u8 {
        for b in seed.bytes().chain([round]) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{hash:016x}"));
    }
    out.truncate(40);
    out
}
