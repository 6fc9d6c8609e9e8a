//! `--config FILE`: a complete TOML file (EAL arguments included) runs the
//! host on a generated sample through net_pcap, with the same FIX as the
//! replayer; the documented production example is a valid file; errors
//! name the key and the line.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const ENGINE: [&str; 4] = ["--max-orders", "100000", "--max-levels", "200000"];

#[test]
fn a_complete_file_runs_the_host() {
    let dir = TempDir::new("config");
    let prefix = EalPrefix::new("config");
    let g = generate(
        &dir,
        "day",
        &[
            "--seed",
            "5",
            "--symbols",
            "20",
            "--messages",
            "60000",
            "--mean-gap-ns",
            "20000",
        ],
    );
    let tx = dir.join("fix.pcap");
    let stats = dir.join("stats.json");
    let eal: Vec<String> = eal_no_huge(&prefix)
        .into_iter()
        .chain([
            "--vdev".to_string(),
            format!(
                "net_pcap0,rx_pcap={},tx_pcap={}",
                g.pcap.display(),
                tx.display()
            ),
        ])
        .collect();
    let file = dir.join("tickwire.toml");
    std::fs::write(
        &file,
        format!(
            r#"# a test deployment
eal = {eal:?}
rx-port = "net_pcap0"
ports = [26400]

[engine]
max-orders = 100000
max-levels = 200000

[run]
idle-exit = "1s"
stats-interval = "0s"
stats-json = {stats:?}
"#,
            stats = stats.display().to_string()
        ),
    )
    .unwrap();
    let run = run_with_timeout(
        Command::new(BIN).arg("--config").arg(&file),
        Duration::from_secs(120),
    );
    run.assert_success("tickwire --config");
    let h = read_json(&stats);
    assert_eq!(
        u(&h, "messages.applied"),
        u(&g.manifest, "total_messages"),
        "{h:#}"
    );
    let rep = replay(&dir, "day", &g.pcap, &ENGINE);
    let (fix, _) = fix_from_capture(&std::fs::read(&tx).unwrap(), 30001, 1500 - 28);
    let got = fix_messages("host", &fix);
    let want = fix_messages("replayer", &rep.fix);
    assert!(want.len() > 100, "{} FIX messages", want.len());
    assert_fix_equal("host (--config) vs replayer", &got, &want, &[52, 10]);
}

#[test]
fn the_documented_example_is_valid() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("docs/tickwire.example.toml");
    // --help after a file: the file's keys and values are checked, then
    // the help is printed without starting the EAL.
    let run = run_with_timeout(
        Command::new(BIN)
            .arg("--config")
            .arg(&example)
            .arg("--help"),
        Duration::from_secs(30),
    );
    run.assert_success("tickwire --config docs/tickwire.example.toml --help");
    assert!(run.stdout.contains("--config"), "{}", run.stdout);
}

#[test]
fn errors_name_the_key_and_the_line() {
    let dir = TempDir::new("config-bad");
    for (text, want) in [
        (
            "rx-port = \"0\"\n\n[fix]\nlisen = \"1.2.3.4:5\"\n",
            ":4: unknown key `fix.lisen`",
        ),
        (
            "interval = \"soon\"\n",
            ":1: `interval`: invalid value 'soon'",
        ),
        ("backfill = 1\n", ":1: `backfill` is a flag"),
        ("ports = [1, \n", ": not TOML"),
    ] {
        let f = dir.join("bad.toml");
        std::fs::write(&f, text).unwrap();
        let run = run_with_timeout(
            Command::new(BIN).arg("--config").arg(&f),
            Duration::from_secs(30),
        );
        assert!(!run.status.success(), "{text:?} was accepted");
        assert!(
            run.stderr.contains(&format!("{}{want}", f.display())) || run.stderr.contains(want),
            "{text:?}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
}
