//! `callcard-sandbox`: the simulators as a program, for the demo, manual
//! testing and benchmarks.

use anyhow::Context;
use callcard_sandbox::{Sandbox, SandboxConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

const USAGE: &str = "\
Usage: callcard-sandbox [--addr 127.0.0.1:0] [--env-file PATH] [--seed N] [--records N]

Serves simulated Aircall, JobAdder and Sellsy APIs on one loopback address,
and the control API under /_sandbox/. Stops on Ctrl+C or SIGTERM.

  --addr ADDR       listening address; port 0 picks a free one (default 127.0.0.1:0)
  --env-file PATH   write the CALLCARD_* variables an app needs to connect
  --seed N          seed of the generated data (default 42)
  --records N       CRM records per kind (default 400)
  --manual-approve  OAuth authorize pages wait for a click instead of approving at once
";

fn main() -> anyhow::Result<()> {
    let mut config = SandboxConfig::default();
    let mut env_file: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--addr" => config.addr = value("--addr")?.parse::<SocketAddr>().context("--addr")?,
            "--env-file" => env_file = Some(PathBuf::from(value("--env-file")?)),
            "--seed" => config.seed = value("--seed")?.parse().context("--seed")?,
            "--records" => config.records_per_kind = value("--records")?.parse().context("--records")?,
            "--manual-approve" => config.auto_approve = false,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let sandbox = Sandbox::start(config).await.context("starting the sandbox")?;
        if let Some(path) = env_file {
            sandbox
                .write_env_file(&path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        println!("callcard-sandbox listening on {}", sandbox.url());
        wait_for_stop().await?;
        sandbox.stop().await;
        Ok(())
    })
}

async fn wait_for_stop() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}
