//! Kill the dispatcher with SIGKILL at random moments, at least 200 times,
//! restart it each time, and check that every call log reached the CRM
//! exactly once: the outbox survives `kill -9` at any point.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ITEMS: u32 = 600;
const KILLS: u32 = 200;

/// A small deterministic generator, so a failing run can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next_in(&mut self, low: u64, high: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        low + (self.0 >> 33) % (high - low)
    }
}

#[test]
fn every_call_log_is_written_exactly_once_across_200_kills() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("outbox.sqlite3");
    let journal = dir.path().join("crm-journal.txt");
    let worker = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_callcard-outbox-worker"));
        command
            .arg(&database)
            .arg(&journal)
            .arg(ITEMS.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        command
    };
    let mut random = Lcg(0x5eed);
    let (mut kills, mut finished_early, mut runs) = (0, 0, 0);
    let started = Instant::now();
    while kills < KILLS {
        runs += 1;
        assert!(
            runs < KILLS * 5,
            "the worker keeps finishing before it can be killed"
        );
        let mut child = worker().spawn().unwrap();
        std::thread::sleep(Duration::from_millis(random.next_in(3, 45)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        } else {
            finished_early += 1;
        }
        child.wait().unwrap();
    }
    // The kills must have hit a working dispatcher, not only start-ups.
    let written_under_fire = std::fs::read_to_string(&journal)
        .map(|t| t.lines().count())
        .unwrap_or(0);
    assert!(
        written_under_fire > 0,
        "no call log was written between the kills"
    );
    // The last run goes to the end.
    let output = worker().output().unwrap();
    assert!(output.status.success(), "the last run fails: {output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("done {ITEMS}")
    );

    let text = std::fs::read_to_string(&journal).unwrap();
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for line in text.lines() {
        *seen.entry(line).or_default() += 1;
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "written more than once: {duplicated:?}");
    let missing: Vec<u32> = (0..ITEMS)
        .filter(|n| !seen.contains_key(format!("aircall-call-{n}").as_str()))
        .collect();
    assert!(missing.is_empty(), "never written: {missing:?}");

    // Printed past the test harness's capture, so the summary shows it.
    let _ = writeln!(
        std::io::stderr(),
        "crash test: {kills} SIGKILLs over {runs} runs ({finished_early} finished before their kill), \
         {written_under_fire} of {ITEMS} written between kills, all {ITEMS} exactly once, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
