//! The `callcard` binary from the outside: its command line and the headless
//! mode, which must start the service and stop cleanly on SIGTERM and SIGINT.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn callcard(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callcard"));
    command
        .env("CALLCARD_HOME", home)
        .env("CALLCARD_LOG", "info")
        .stdin(Stdio::null());
    command
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_text(home: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(home.join("state/logs")) else {
        return String::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("callcard did not stop within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn headless_stops_cleanly_on(signal_name: &str) {
    let home = tempfile::tempdir().unwrap();
    let mut child = callcard(home.path())
        .arg("--headless")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the headless service to start", || {
        log_text(home.path()).contains("running headless")
    });
    assert!(
        home.path().join("data/callcard.sqlite3").is_file(),
        "the database is created"
    );
    signal(&child, signal_name);
    let status = wait_exit(&mut child);
    assert!(status.success(), "exit status {status:?}");
    let log = log_text(home.path());
    assert!(log.contains("stop signal received"), "{log}");
    assert!(log.contains("service stopped"), "{log}");
}

#[test]
fn headless_stops_cleanly_on_sigterm() {
    headless_stops_cleanly_on("TERM");
}

#[test]
fn headless_stops_cleanly_on_sigint() {
    headless_stops_cleanly_on("INT");
}

#[test]
fn serve_is_the_same_as_headless() {
    let home = tempfile::tempdir().unwrap();
    let mut child = callcard(home.path())
        .arg("serve")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("serve to start", || {
        log_text(home.path()).contains("running headless")
    });
    signal(&child, "TERM");
    assert!(wait_exit(&mut child).success());
}

#[test]
fn a_newer_database_stops_the_app_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("data")).unwrap();
    let db = rusqlite::Connection::open(home.path().join("data/callcard.sqlite3")).unwrap();
    db.pragma_update(None, "user_version", 999).unwrap();
    let output = callcard(home.path()).arg("--headless").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("newer version of Callcard"), "{stderr}");
    drop(db);
}

#[test]
fn help_and_version_exit_zero() {
    let home = tempfile::tempdir().unwrap();
    let help = callcard(home.path()).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--headless"));
    let version = callcard(home.path()).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("callcard {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn an_unknown_option_is_named_and_exits_2() {
    let home = tempfile::tempdir().unwrap();
    let output = callcard(home.path()).arg("--frobnicate").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--frobnicate"));
}

#[test]
fn a_second_engine_on_the_same_data_folder_is_refused_and_the_first_keeps_running() {
    let home = tempfile::tempdir().unwrap();
    let mut first = callcard(home.path())
        .arg("--headless")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first engine to start", || {
        log_text(home.path()).contains("running headless")
    });
    let second = callcard(home.path()).arg("--headless").output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "the second engine ran: {stderr}");
    assert!(stderr.contains("another Callcard is already running"), "{stderr}");
    assert!(first.try_wait().unwrap().is_none(), "the first engine still runs");
    signal(&first, "TERM");
    assert!(wait_exit(&mut first).success());
    // Once the first has stopped, the folder is free again.
    let mut third = callcard(home.path())
        .arg("--headless")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("a later engine to start", || {
        log_text(home.path()).matches("running headless").count() >= 2
    });
    signal(&third, "TERM");
    assert!(wait_exit(&mut third).success());
}
