//! A runbook's options, declared as a table (`#{name: default}`) and read by the host from the
//! script's arguments: `--name=value`, or `--name` for a switch (a default that is a bool). A
//! bad option stops the run as a usage error (exit 2) before any step; `ovscript run SCRIPT
//! --help` lists them (from the same table and the script's header) without running anything.

use rhai::{Array, Dynamic, Map};

/// The options `args` give, over the defaults of `known`; `durations` name the options that
/// take a duration. The error is the operator's message for a usage error.
pub fn chosen(args: &Array, known: &Map, durations: &Array) -> Result<Map, String> {
    let mut chosen = known.clone();
    let listed = || {
        let mut names: Vec<String> = known.keys().map(|k| format!("--{k}")).collect();
        names.sort();
        names.join(", ")
    };
    for arg in args {
        let arg = arg.to_string();
        let Some(option) = arg.strip_prefix("--") else {
            return Err(format!(
                "unexpected argument \"{arg}\": options look like --name or --name=value"
            ));
        };
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (option, None),
        };
        let Some(default) = known.get(name) else {
            let names: Vec<String> = known.keys().map(|k| k.to_string()).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let guess = crate::diagnostic::closest(name, &names)
                .map(|n| format!(" (did you mean --{n}?)"))
                .unwrap_or_default();
            return Err(format!(
                "unknown option --{name}{guess}: this runbook takes {} (ovscript run SCRIPT --help says what each does)",
                listed()
            ));
        };
        let value = match (default.is_bool(), value) {
            (true, None) => Dynamic::TRUE,
            (true, Some(_)) => {
                return Err(format!("--{name} is a switch: give it without a value"))
            }
            (false, None | Some("")) => {
                return Err(format!("--{name} needs a value: --{name}=VALUE"))
            }
            (false, Some(value)) => Dynamic::from(value.to_string()),
        };
        chosen.insert(name.into(), value);
    }
    for name in durations {
        let name = name.to_string();
        let given = chosen
            .get(name.as_str())
            .map(|v| v.to_string())
            .unwrap_or_default();
        if !given.is_empty() && crate::when::parse_duration(&given).is_err() {
            return Err(format!(
                "--{name}={given} is not a duration: write it like 90s, 15m or 2h"
            ));
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Map {
        let mut map = Map::new();
        map.insert("watch".into(), Dynamic::from(String::new()));
        map.insert("skip-staging".into(), Dynamic::FALSE);
        map
    }

    fn read(args: &[&str]) -> Result<Map, String> {
        let args: Array = args.iter().map(|a| Dynamic::from(a.to_string())).collect();
        chosen(&args, &known(), &vec![Dynamic::from("watch".to_string())])
    }

    #[test]
    fn options_are_read_over_their_defaults() {
        let chosen = read(&["--watch=10m", "--skip-staging"]).unwrap();
        assert_eq!(chosen["watch"].to_string(), "10m");
        assert!(chosen["skip-staging"].as_bool().unwrap());
        let defaults = read(&[]).unwrap();
        assert_eq!(defaults["watch"].to_string(), "");
        assert!(!defaults["skip-staging"].as_bool().unwrap());
    }

    #[test]
    fn each_bad_option_is_named() {
        assert_eq!(
            read(&["now"]).unwrap_err(),
            "unexpected argument \"now\": options look like --name or --name=value"
        );
        assert_eq!(read(&["--wach=5m"]).unwrap_err(), "unknown option --wach (did you mean --watch?): this runbook takes --skip-staging, --watch (ovscript run SCRIPT --help says what each does)");
        assert_eq!(
            read(&["--skip-staging=no"]).unwrap_err(),
            "--skip-staging is a switch: give it without a value"
        );
        assert_eq!(
            read(&["--watch"]).unwrap_err(),
            "--watch needs a value: --watch=VALUE"
        );
        assert_eq!(
            read(&["--watch=5M"]).unwrap_err(),
            "--watch=5M is not a duration: write it like 90s, 15m or 2h"
        );
    }
}
