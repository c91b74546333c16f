//! How long `callcard-sandbox --addr 127.0.0.1:0 --env-file F` takes from
//! launch until the env file is written and the control API answers.
//! Run with `cargo bench -p callcard-sandbox`; prints p50, p95 and max.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 20;

fn main() {
    let binary = env!("CARGO_BIN_EXE_callcard-sandbox");
    let dir = std::env::temp_dir().join(format!("callcard-sandbox-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut times = Vec::new();
    for run in 0..RUNS {
        let env_file = dir.join(format!("env-{run}"));
        let start = Instant::now();
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0", "--env-file"])
            .arg(&env_file)
            .stdout(Stdio::null())
            .spawn()
            .expect("the sandbox starts");
        let url = loop {
            if let Ok(text) = std::fs::read_to_string(&env_file) {
                if let Some(url) = text.lines().find_map(|l| l.strip_prefix("CALLCARD_SANDBOX_URL=")) {
                    break url.to_owned();
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no env file after 10 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        };
        let addr = url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).expect("connects");
        write!(
            stream,
            "GET /_sandbox/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .expect("writes");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("reads");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        times.push(start.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "sandbox startup to first answer over {RUNS} runs: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        ms(times[RUNS / 2]),
        ms(times[RUNS * 95 / 100]),
        ms(times[RUNS - 1])
    );
    let _ = std::fs::remove_dir_all(&dir);
}
