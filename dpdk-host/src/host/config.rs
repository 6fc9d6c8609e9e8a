//! `--config tickwire.toml`: every app argument from a file, the command
//! line overriding it.
//!
//! A key is an app option's long name (`interval = "1ms"`,
//! `fix-listen = "10.0.0.2:9878"`; `_` and `-` alike). Tables group keys:
//! in `[fix]`, `listen` is `--fix-listen` when that option exists, else
//! `--listen`. Strings and integers are the option's value, `true` sets a
//! flag (`false` leaves it off), an array repeats the option. The top-level
//! `eal = [...]` holds the EAL arguments, used when the command line gives
//! none. Unknown keys, values of the wrong kind and values the option
//! refuses are errors naming the key and its line in the file.

use std::path::{Path, PathBuf};

use clap::{ArgAction, CommandFactory};
use toml_edit::{ImDocument, Item, Table, Value};

use super::args::HostArgs;

/// A loaded file: EAL arguments and app arguments, with where each app
/// option came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFile {
    /// The file.
    pub path: PathBuf,
    /// `eal = [...]`.
    pub eal: Vec<String>,
    /// App arguments, in file order.
    pub app: Vec<String>,
    /// (option long name, line) for every option set.
    origins: Vec<(String, usize)>,
}

/// An app option as clap knows it.
struct OptionInfo {
    long: String,
    /// Other long names (`--nats-servers` for `--nats`).
    aliases: Vec<String>,
    flag: bool,
    repeatable: bool,
}

fn options() -> Vec<OptionInfo> {
    HostArgs::command()
        .get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?.to_string();
            let action = a.get_action();
            Some(OptionInfo {
                long,
                aliases: a
                    .get_all_aliases()
                    .unwrap_or_default()
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
                flag: matches!(action, ArgAction::SetTrue | ArgAction::SetFalse),
                repeatable: matches!(action, ArgAction::Append),
            })
        })
        .collect()
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> usize {
    let at = span.map_or(0, |s| s.start).min(text.len());
    text[..at].bytes().filter(|&b| b == b'\n').count() + 1
}

impl ConfigFile {
    /// Reads and checks `path` (keys and kinds; values are checked by
    /// [`merge`] with the options' own parsers).
    pub fn load(path: &Path) -> Result<ConfigFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--config {}: {e}", path.display()))?;
        Self::parse(path, &text)
    }

    /// [`ConfigFile::load`] on text already read.
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, String> {
        let shown = path.display();
        let doc = ImDocument::parse(text.to_string()).map_err(|e| {
            let line = line_of(text, e.span());
            let msg = e.message().trim().replace('\n', "; ");
            format!("{shown}:{line}: not TOML: {msg}")
        })?;
        let opts = options();
        let mut cfg = ConfigFile {
            path: path.to_path_buf(),
            ..ConfigFile::default()
        };
        walk(
            text,
            &shown.to_string(),
            doc.as_table(),
            None,
            &opts,
            &mut cfg,
        )?;
        Ok(cfg)
    }

    /// The line that set `--long`, if the file did.
    pub fn line_of_option(&self, long: &str) -> Option<usize> {
        self.origins
            .iter()
            .rev()
            .find(|(l, _)| l == long)
            .map(|(_, n)| *n)
    }
}

fn walk(
    text: &str,
    shown: &str,
    table: &Table,
    section: Option<&str>,
    opts: &[OptionInfo],
    cfg: &mut ConfigFile,
) -> Result<(), String> {
    for (key, item) in table.iter() {
        let line = line_of(
            text,
            table
                .key(key)
                .and_then(|k| k.span())
                .or_else(|| item.span()),
        );
        let dotted = match section {
            Some(s) => format!("{s}.{key}"),
            None => key.to_string(),
        };
        let norm = key.replace('_', "-");
        if section.is_none() && norm == "eal" {
            cfg.eal = strings(text, shown, &dotted, item, line)?;
            continue;
        }
        if let Item::Table(t) = item {
            if section.is_some() {
                return Err(format!(
                    "{shown}:{line}: [{dotted}]: tables go one level deep (a section of options)"
                ));
            }
            walk(text, shown, t, Some(&norm), opts, cfg)?;
            continue;
        }
        let named = |n: &str| {
            opts.iter()
                .find(|o| o.long == n || o.aliases.iter().any(|a| a == n))
        };
        let found = section
            .and_then(|s| named(&format!("{s}-{norm}")))
            .or_else(|| named(&norm));
        let Some(opt) = found else {
            return Err(format!(
                "{shown}:{line}: unknown key `{dotted}`: not an app option (see `tickwire -- --help`)"
            ));
        };
        if opt.long == "config" {
            return Err(format!(
                "{shown}:{line}: `{dotted}`: a config file cannot name another"
            ));
        }
        let flag = format!("--{}", opt.long);
        match item.as_value() {
            Some(Value::Boolean(b)) if opt.flag => {
                if *b.value() {
                    cfg.app.push(flag);
                    cfg.origins.push((opt.long.clone(), line));
                }
            }
            Some(_) if opt.flag => {
                return Err(format!(
                    "{shown}:{line}: `{dotted}` is a flag: give true or false"
                ));
            }
            Some(Value::Array(a)) => {
                if !opt.repeatable {
                    return Err(format!(
                        "{shown}:{line}: `{dotted}` takes one value, not a list"
                    ));
                }
                for v in a.iter() {
                    cfg.app.push(flag.clone());
                    cfg.app.push(scalar(shown, &dotted, v, line)?);
                }
                cfg.origins.push((opt.long.clone(), line));
            }
            Some(v) => {
                cfg.app.push(flag);
                cfg.app.push(scalar(shown, &dotted, v, line)?);
                cfg.origins.push((opt.long.clone(), line));
            }
            None => {
                return Err(format!("{shown}:{line}: `{dotted}`: expected a value"));
            }
        }
    }
    Ok(())
}

fn scalar(shown: &str, key: &str, v: &Value, line: usize) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.value().clone()),
        Value::Integer(i) => Ok(i.value().to_string()),
        Value::Float(f) => Ok(f.value().to_string()),
        Value::Boolean(b) => Ok(b.value().to_string()),
        _ => Err(format!(
            "{shown}:{line}: `{key}`: expected a string, number or boolean"
        )),
    }
}

fn strings(
    text: &str,
    shown: &str,
    key: &str,
    item: &Item,
    line: usize,
) -> Result<Vec<String>, String> {
    let _ = text;
    match item.as_value() {
        Some(Value::Array(a)) => a.iter().map(|v| scalar(shown, key, v, line)).collect(),
        _ => Err(format!(
            "{shown}:{line}: `{key}`: expected a list of strings"
        )),
    }
}

/// The `--config FILE` of the app arguments, if any.
pub fn config_path(app: &[String]) -> Option<PathBuf> {
    let mut it = app.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    None
}

/// The app arguments to parse: the file's first, then the command line's,
/// which win (a single-valued option given on both takes the command
/// line's; a list given on the command line replaces the file's). A value
/// the file gives that its option refuses is an error naming the line.
pub fn merge(file: &ConfigFile, cli: &[String]) -> Result<Vec<String>, String> {
    // The file's values alone, so a refusal can name the file's line.
    if let Err(e) = super::args::parse(&file.app) {
        use clap::error::{ContextKind, ContextValue, ErrorKind};
        if matches!(
            e.kind(),
            ErrorKind::InvalidValue | ErrorKind::ValueValidation
        ) {
            let arg = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            let long = arg
                .trim_start_matches("--")
                .split([' ', '='])
                .next()
                .unwrap_or_default()
                .to_string();
            let line = file
                .line_of_option(&long)
                .map_or(String::new(), |n| format!(":{n}"));
            let msg = e.render().to_string();
            let first = msg
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            return Err(format!("{}{line}: `{long}`: {first}", file.path.display()));
        }
    }
    let on_cli = |long: &str| {
        cli.iter()
            .any(|a| a == &format!("--{long}") || a.starts_with(&format!("--{long}=")))
    };
    let opts = options();
    let mut out = Vec::with_capacity(file.app.len() + cli.len());
    let mut i = 0;
    while i < file.app.len() {
        let long = file.app[i].trim_start_matches("--");
        let opt = opts.iter().find(|o| o.long == long);
        // The file writes a flag alone and any other option with its value.
        let n = if opt.is_some_and(|o| o.flag) { 1 } else { 2 };
        let replaced = opt.is_some_and(|o| o.repeatable) && on_cli(long);
        if !replaced {
            out.extend(file.app[i..(i + n).min(file.app.len())].iter().cloned());
        }
        i += n;
    }
    // The command line, without --config itself.
    let mut it = cli.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            it.next();
            continue;
        }
        if a.starts_with("--config=") {
            continue;
        }
        out.push(a.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<ConfigFile, String> {
        ConfigFile::parse(Path::new("t.toml"), text)
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn keys_sections_lists_flags() {
        let c = p(r#"
eal = ["--no-huge", "-l", "0,1"]
rx_port = "net_pcap0"
ports = [26400, 26401]
interval = "1ms"
idle-exit = "1s"
exit-on-end-of-session = true
no-udp-output = false

[fix]
listen = "10.0.0.2:9878"
max-sessions = 8

[lines]
line-a = "233.54.12.111:26400"
rerequest = ["10.2.0.5:26401"]

[nats]
servers = ["nats://10.0.0.5:4222", "nats://10.0.0.6:4222"]
stream = "MD"
"#)
        .unwrap();
        assert_eq!(c.eal, s(&["--no-huge", "-l", "0,1"]));
        assert_eq!(
            c.app,
            s(&[
                "--rx-port",
                "net_pcap0",
                "--ports",
                "26400",
                "--ports",
                "26401",
                "--interval",
                "1ms",
                "--idle-exit",
                "1s",
                "--exit-on-end-of-session",
                "--fix-listen",
                "10.0.0.2:9878",
                "--fix-max-sessions",
                "8",
                "--line-a",
                "233.54.12.111:26400",
                "--rerequest",
                "10.2.0.5:26401",
                "--nats",
                "nats://10.0.0.5:4222",
                "--nats",
                "nats://10.0.0.6:4222",
                "--nats-stream",
                "MD"
            ])
        );
        assert_eq!(c.line_of_option("fix-max-sessions"), Some(12));
        let a = super::super::args::parse(&merge(&c, &[]).unwrap()).unwrap();
        assert_eq!(a.ports, vec![26400, 26401]);
        assert!(a.exit_on_end_of_session && !a.no_udp_output);
        assert_eq!(a.fix_max_sessions, 8);
        assert_eq!(a.interval, 1_000_000);
        assert_eq!(a.nats.servers.len(), 2);
        assert_eq!(a.nats.nats_stream.as_deref(), Some("MD"));
    }

    #[test]
    fn command_line_wins() {
        let c = p("interval = \"1ms\"\nports = [1, 2]\nsender = \"A\"\n").unwrap();
        let cli = s(&["--config", "t.toml", "--interval", "5ms", "--ports", "9"]);
        let a = super::super::args::parse(&merge(&c, &cli).unwrap()).unwrap();
        assert_eq!(a.interval, 5_000_000);
        assert_eq!(a.ports, vec![9]);
        assert_eq!(a.sender, "A");
    }

    #[test]
    fn errors_name_key_and_line() {
        let e = p("interval = \"1ms\"\n\n[fix]\nlisen = \"1.2.3.4:5\"\n").unwrap_err();
        assert!(e.contains("t.toml:4") && e.contains("fix.lisen"), "{e}");
        let e = p("exit-on-end-of-session = \"yes\"\n").unwrap_err();
        assert!(e.contains("t.toml:1") && e.contains("flag"), "{e}");
        let e = p("interval = [\"1ms\"]\n").unwrap_err();
        assert!(e.contains("one value"), "{e}");
        let e = p("interval = \n").unwrap_err();
        assert!(e.contains("t.toml:1") && e.contains("not TOML"), "{e}");
        let c = p("sender = \"X\"\n\ninterval = \"fast\"\n").unwrap();
        let e = merge(&c, &[]).unwrap_err();
        assert!(e.contains("t.toml:3") && e.contains("interval"), "{e}");
        let e = p("[a]\n[a.b]\nx = 1\n").unwrap_err();
        assert!(e.contains("one level"), "{e}");
    }
}
