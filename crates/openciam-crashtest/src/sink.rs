//! The mail peer: the repository's aiosmtpd sink (`crates/openciam-mail/tests/smtp_sink.py`) as a
//! child of this process, so codes mailed before a SIGKILL of the server are still readable after
//! it (the dev mailbox lives in the server's memory and dies with it).

use anyhow::{Context as _, bail};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// A running sink and the codes it received, by recipient (lower case), oldest first.
pub(crate) struct Sink {
    /// The SMTP port on 127.0.0.1.
    pub(crate) port: u16,
    codes: Arc<Mutex<HashMap<String, Vec<String>>>>,
    _child: Child,
}

impl Sink {
    /// Starts `script` with `python3` and waits for its port.
    pub(crate) async fn start(script: &Path) -> anyhow::Result<Self> {
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--tls", "none"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting python3 {} (run scripts/python-deps.sh)",
                    script.display()
                )
            })?;
        let stdout = child.stdout.take().context("sink stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .context("the SMTP sink did not start within 20 s")??
            .context("the SMTP sink exited (is aiosmtpd installed? run scripts/python-deps.sh)")?;
        let port = serde_json::from_str::<serde_json::Value>(&first)?["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .with_context(|| format!("unexpected first line from the sink: {first}"))?;
        let codes = Arc::new(Mutex::new(HashMap::<String, Vec<String>>::new()));
        let store = codes.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let Some(code) = msg["text"].as_str().and_then(code_in) else {
                    continue;
                };
                let to = msg["rcpt_tos"][0].as_str().unwrap_or_default().to_lowercase();
                if let Ok(mut map) = store.lock() {
                    map.entry(to).or_default().push(code);
                }
            }
        });
        Ok(Self {
            port,
            codes,
            _child: child,
        })
    }

    /// The newest code mailed to `to`, waiting up to `wait` for one.
    pub(crate) async fn code_for(&self, to: &str, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        let to = to.to_lowercase();
        loop {
            let found = self
                .codes
                .lock()
                .ok()
                .and_then(|map| map.get(&to).and_then(|v| v.last().cloned()));
            if found.is_some() || tokio::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The code in a message's text: its first line that is eight digits and nothing else.
fn code_in(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

/// Fails unless `script` exists.
pub(crate) fn check_script(script: &Path) -> anyhow::Result<()> {
    if !script.exists() {
        bail!("SMTP sink script {} not found (--smtp-sink)", script.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_code_line() {
        let text = "Hello,\n\nUse this code:\n\n    01234567\n\nThe code expires in 10 minutes.\n";
        assert_eq!(code_in(text).as_deref(), Some("01234567"));
        assert_eq!(code_in("no code 123 here"), None);
    }
}
