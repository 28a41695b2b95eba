//! Durations and points in time as scripts write them: `90`, `"90s"`, `"15m"`, `"2h"`, `"1d"`,
//! or an RFC 3339 time.

use chrono::{DateTime, Utc};
use rhai::Dynamic;
use std::time::Duration;

/// A number of seconds, or a duration string like `"90s"` / `"15m"` / `"1h 30m"`.
pub fn duration(value: &Dynamic) -> Result<Duration, String> {
    if let Ok(n) = value.as_int() {
        return u64::try_from(n)
            .map(Duration::from_secs)
            .map_err(|_| format!("a duration cannot be negative: {n}"));
    }
    if let Ok(f) = value.as_float() {
        return Duration::try_from_secs_f64(f).map_err(|_| format!("not a duration: {f}"));
    }
    match value.clone().into_immutable_string() {
        Ok(text) => parse_duration(&text),
        Err(kind) => Err(format!(
            "a duration is a number of seconds or a string like \"90s\" or \"15m\", not {kind}"
        )),
    }
}

/// A duration as an operator writes it: seconds, or parts like `90s`, `15m`, `2h`, `1d`,
/// `1h 30m`, `200ms` (units ms, s, m, h, d, also spelled out). Nothing else: `5M` would be five
/// months to some parsers, and a wait of five months is never what was meant.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let wrong = |why: &str| {
        format!(
            "`{text}` is not a duration ({why}): write it like \"90s\", \"15m\", \"2h\", \"1d\" or \"1h 30m\""
        )
    };
    let mut total_ms: u64 = 0;
    let mut rest = text;
    if rest.is_empty() {
        return Err(wrong("it is empty"));
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(wrong("a number must come first"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| wrong("the number is too large"))?;
        rest = rest[digits..].trim_start();
        let letters = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let millis = match &rest[..letters] {
            "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1,
            "s" | "sec" | "secs" | "second" | "seconds" => 1000,
            "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
            "d" | "day" | "days" => 86_400_000,
            "" => return Err(wrong("a unit must follow each number")),
            unit => return Err(wrong(&format!("`{unit}` is not a unit: use s, m, h or d"))),
        };
        total_ms = number
            .checked_mul(millis)
            .and_then(|part| total_ms.checked_add(part))
            .ok_or_else(|| wrong("it is too long"))?;
        rest = rest[letters..].trim_start();
    }
    Ok(Duration::from_millis(total_ms))
}

/// `since` as scripts give it: a duration back from `now`, or an RFC 3339 time.
pub fn since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(time.with_timezone(&Utc));
    }
    let back = parse_duration(text).map_err(|_| {
        format!("`{text}` is neither a duration like \"30m\" nor an RFC 3339 time like \"2024-05-01T12:00:00Z\"")
    })?;
    let back = chrono::Duration::from_std(back).map_err(|e| format!("`{text}`: {e}"))?;
    Ok(now - back)
}

/// The form `now()` returns and journals use.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_units_an_operator_means() {
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("45 minutes"), Ok(Duration::from_secs(2700)));
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        for bad in [
            "5M",
            "1y",
            "2w",
            "10us",
            "m",
            "-5m",
            "5m x",
            "",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("5M")
            .unwrap_err()
            .contains("`M` is not a unit"));
    }

    #[test]
    fn durations() {
        assert_eq!(
            duration(&Dynamic::from(90_i64)).unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            duration(&Dynamic::from("15m")).unwrap(),
            Duration::from_secs(900)
        );
        assert_eq!(
            duration(&Dynamic::from("1d")).unwrap(),
            Duration::from_secs(86400)
        );
        assert!(duration(&Dynamic::from(-1_i64)).is_err());
        assert!(duration(&Dynamic::from("soon"))
            .unwrap_err()
            .contains("15m"));
        assert!(duration(&Dynamic::from(true)).is_err());
    }

    #[test]
    fn since_takes_a_duration_or_a_time() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(rfc3339(since("30m", now).unwrap()), "2024-05-01T11:30:00Z");
        assert_eq!(
            rfc3339(since("2024-05-01T10:00:00+02:00", now).unwrap()),
            "2024-05-01T08:00:00Z"
        );
        assert!(since("yesterday", now).is_err());
    }
}
