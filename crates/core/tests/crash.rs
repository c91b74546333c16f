//! Kill the dispatcher with SIGKILL at random moments, at least 200 times,
//! restart it each time, and check that every call log reached the CRM
//! exactly once: the outbox survives `kill -9` at any point.
//!
//! The kills go in rounds. A round is a fresh outbox of call logs and a
//! fresh CRM journal; it ends when a run finishes the outbox, and its
//! journal is checked then. On a fast disk a round takes a few runs, on a
//! slow one all the kills fall in one round: either way every kill hits a
//! working dispatcher (most are aimed just after the worker says `ready`)
//! and the test does not depend on the disk's speed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ITEMS: u32 = 600;
const KILLS: u32 = 200;
/// How long a worker may take to start dispatching before the test gives up.
const READY_WITHIN: Duration = Duration::from_secs(60);

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

/// One round's outbox and journal.
struct Round {
    database: PathBuf,
    journal: PathBuf,
}

impl Round {
    fn new(dir: &Path, number: u32) -> Round {
        Round {
            database: dir.join(format!("outbox-{number}.sqlite3")),
            journal: dir.join(format!("crm-journal-{number}.txt")),
        }
    }

    /// Starts a worker; its stdout lines arrive on the receiver.
    fn spawn(&self) -> (Child, mpsc::Receiver<String>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_callcard-outbox-worker"))
            .arg(&self.database)
            .arg(&self.journal)
            .arg(ITEMS.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the worker");
        let stdout = child.stdout.take().expect("the worker's stdout");
        let (lines, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        (child, receiver)
    }

    fn written(&self) -> usize {
        std::fs::read_to_string(&self.journal)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    /// Every call log of the round is in its journal, once.
    fn check_exactly_once(&self, number: u32) {
        let text = std::fs::read_to_string(&self.journal).unwrap_or_default();
        let mut seen: HashMap<&str, u32> = HashMap::new();
        for line in text.lines() {
            *seen.entry(line).or_default() += 1;
        }
        let duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            duplicated.is_empty(),
            "round {number}: written more than once: {duplicated:?}"
        );
        let missing: Vec<u32> = (0..ITEMS)
            .filter(|n| !seen.contains_key(format!("aircall-call-{n}").as_str()))
            .collect();
        assert!(missing.is_empty(), "round {number}: never written: {missing:?}");
    }
}

#[test]
fn every_call_log_is_written_exactly_once_across_200_kills() {
    let dir = tempfile::tempdir().unwrap();
    let mut random = Lcg(0x5eed);
    let (mut kills, mut runs, mut rounds_done) = (0u32, 0u32, 0u32);
    let (mut killed_while_dispatching, mut written_under_fire) = (0u32, 0usize);
    let started = Instant::now();
    let mut round = Round::new(dir.path(), 0);
    while kills < KILLS {
        runs += 1;
        // Each run is killed or ends its round, and a round needs a kill to
        // leave anything for the next run: at most two runs per kill.
        assert!(
            runs <= KILLS * 2 + 2,
            "the worker keeps finishing before it can be killed ({runs} runs, {kills} kills)"
        );
        let before = round.written();
        let (mut child, lines) = round.spawn();
        // One kill in four lands anywhere (start-up, enqueuing, recovery);
        // the others just after the dispatching starts.
        let aim_at_dispatch = random.next_in(0, 4) != 0;
        let mut finished = false;
        if aim_at_dispatch {
            match lines.recv_timeout(READY_WITHIN) {
                Ok(line) if line == "ready" => {}
                Ok(other) => panic!("the worker said {other:?} before `ready`"),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("the worker did not start dispatching within {READY_WITHIN:?}");
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => finished = true,
            }
            std::thread::sleep(Duration::from_millis(random.next_in(0, 25)));
        } else {
            std::thread::sleep(Duration::from_millis(random.next_in(1, 45)));
        }
        if !finished && child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
            let during = round.written() - before;
            written_under_fire += during;
            if aim_at_dispatch {
                killed_while_dispatching += 1;
            }
            continue;
        }
        let status = child.wait().unwrap();
        assert!(status.success(), "run {runs} failed: {status}");
        let said: Vec<String> = lines.iter().collect();
        assert!(
            said.iter().any(|l| *l == format!("done {ITEMS}")),
            "run {runs} ended without finishing the outbox: {said:?}"
        );
        round.check_exactly_once(rounds_done);
        rounds_done += 1;
        round = Round::new(dir.path(), rounds_done);
    }
    // The kills must have hit a working dispatcher, not only start-ups.
    assert!(
        written_under_fire > 0,
        "no call log was written between the kills"
    );
    // The last run of the last round goes to the end.
    let (mut child, lines) = round.spawn();
    let status = child.wait().unwrap();
    assert!(status.success(), "the last run fails: {status}");
    let said: Vec<String> = lines.iter().collect();
    assert!(
        said.iter().any(|l| *l == format!("done {ITEMS}")),
        "the last run ended without finishing the outbox: {said:?}"
    );
    round.check_exactly_once(rounds_done);
    rounds_done += 1;

    // Printed past the test harness's capture, so the summary shows it.
    let _ = writeln!(
        std::io::stderr(),
        "crash test: {kills} SIGKILLs ({killed_while_dispatching} aimed at the dispatcher) over {runs} runs \
         and {rounds_done} rounds of {ITEMS} call logs, {written_under_fire} written by runs that were killed, \
         every round's logs exactly once, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
