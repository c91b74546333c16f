//! The one-shot redirect listener: binds 127.0.0.1 on a fixed port (a CRM
//! that matches the registered redirect URI exactly, like JobAdder) or any
//! free one, waits
//! for the browser to come back with `code` and `state`, answers with a short
//! page, and closes. Requests for other paths (a browser's favicon) are
//! answered 404 and ignored; a wrong `state` ends the attempt.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CALLBACK_PATH: &str = "/callback";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoopbackError {
    #[error("cannot listen on 127.0.0.1 for the sign-in answer: {0}")]
    Bind(String),
    #[error(
        "port {0} on 127.0.0.1 is in use by another program, so the sign-in cannot come back to \
         Callcard: close that program, or choose another redirect port and register it with the CRM"
    )]
    PortInUse(u16),
    #[error("the sign-in was not finished within {} minutes", .0.as_secs() / 60)]
    TimedOut(Duration),
    #[error("the sign-in answer did not match this request (state); please try again")]
    StateMismatch,
    #[error("the sign-in was refused: {0}")]
    Denied(String),
}

pub struct LoopbackRedirect {
    listener: TcpListener,
    port: u16,
}

impl LoopbackRedirect {
    /// Any free port: for servers that accept any loopback port (RFC 8252 §7.3).
    pub async fn bind() -> Result<Self, LoopbackError> {
        Self::bind_port(0).await
    }

    /// This port (0: any free one).
    pub async fn bind_port(port: u16) -> Result<Self, LoopbackError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                LoopbackError::PortInUse(port)
            } else {
                LoopbackError::Bind(e.to_string())
            }
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| LoopbackError::Bind(e.to_string()))?
            .port();
        Ok(Self { listener, port })
    }

    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Waits for the browser's answer and returns the authorization code.
    pub async fn wait_for_code(
        self,
        expected_state: &str,
        timeout: Duration,
    ) -> Result<String, LoopbackError> {
        tokio::time::timeout(timeout, self.accept_until_answer(expected_state))
            .await
            .map_err(|_| LoopbackError::TimedOut(timeout))?
    }

    async fn accept_until_answer(self, expected_state: &str) -> Result<String, LoopbackError> {
        loop {
            let Ok((mut stream, _)) = self.listener.accept().await else {
                continue;
            };
            let Some(target) = read_request_target(&mut stream).await else {
                continue;
            };
            match read_answer(&target, expected_state) {
                Answer::Unreadable => {
                    respond(&mut stream, "400 Bad Request", "Unreadable request.").await;
                }
                Answer::Elsewhere => {
                    respond(&mut stream, "404 Not Found", "Not found.").await;
                }
                Answer::StateMismatch => {
                    respond(
                        &mut stream,
                        "400 Bad Request",
                        "This sign-in answer does not match; please try again from Callcard.",
                    )
                    .await;
                    return Err(LoopbackError::StateMismatch);
                }
                Answer::Denied(detail) => {
                    respond(
                        &mut stream,
                        "200 OK",
                        "The sign-in was refused. You can close this tab.",
                    )
                    .await;
                    return Err(LoopbackError::Denied(detail));
                }
                Answer::Code(code) => {
                    respond(
                        &mut stream,
                        "200 OK",
                        "Callcard is connected. You can close this tab.",
                    )
                    .await;
                    return Ok(code);
                }
                Answer::NoCode => {
                    respond(&mut stream, "400 Bad Request", "The answer has no code.").await;
                    return Err(LoopbackError::Denied(
                        "no authorization code in the answer".into(),
                    ));
                }
            }
        }
    }
}

/// What a request to the listener brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Not a request line's target we can read.
    Unreadable,
    /// Another path (a browser's favicon): ignored.
    Elsewhere,
    /// The `state` is not this sign-in's: the attempt ends.
    StateMismatch,
    /// The CRM (or the user) refused, with its description.
    Denied(String),
    /// The authorization code.
    Code(String),
    /// The right state but no code.
    NoCode,
}

/// Reads the redirect's request target (`/callback?code=…&state=…`): the
/// code only with this sign-in's `state`; anything else a typed answer.
pub fn read_answer(target: &str, expected_state: &str) -> Answer {
    let Ok(url) = url::Url::parse(&format!("http://127.0.0.1{target}")) else {
        return Answer::Unreadable;
    };
    if url.path() != CALLBACK_PATH {
        return Answer::Elsewhere;
    }
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if param("state").as_deref() != Some(expected_state) {
        return Answer::StateMismatch;
    }
    if let Some(error) = param("error") {
        return Answer::Denied(param("error_description").unwrap_or(error));
    }
    match param("code") {
        Some(code) if !code.is_empty() => Answer::Code(code),
        _ => Answer::NoCode,
    }
}

/// The request target of the first line (`GET /callback?… HTTP/1.1`).
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::with_capacity(2048);
    let mut chunk = [0u8; 1024];
    // The head is small; a client that sends more than 16 KiB is not a browser redirect.
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") && buffer.len() < 16 * 1024 {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let head = String::from_utf8_lossy(&buffer);
    let mut parts = head.lines().next()?.split_whitespace();
    (parts.next()? == "GET").then_some(())?;
    parts.next().map(str::to_owned)
}

async fn respond(stream: &mut TcpStream, status: &str, message: &str) {
    // Fixed texts only: nothing from the request is echoed back.
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Callcard</title>\
         <body style=\"font-family:sans-serif;margin:3em\"><p>{message}</p></body>"
    );
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(uri: &str) -> String {
        let url = url::Url::parse(uri).expect("url");
        let mut stream = TcpStream::connect(("127.0.0.1", url.port().expect("port")))
            .await
            .expect("connect");
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        stream
            .write_all(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .expect("write");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        answer
    }

    #[tokio::test]
    async fn the_code_comes_back_when_the_state_matches_and_other_paths_are_ignored() {
        let redirect = LoopbackRedirect::bind().await.expect("bind");
        let uri = redirect.redirect_uri();
        assert!(uri.starts_with("http://127.0.0.1:"));
        let waiting = tokio::spawn(redirect.wait_for_code("s1", Duration::from_secs(5)));
        let base = uri.trim_end_matches(CALLBACK_PATH).to_owned();
        assert!(get(&format!("{base}/favicon.ico"))
            .await
            .starts_with("HTTP/1.1 404"));
        let page = get(&format!("{uri}?code=abc&state=s1")).await;
        assert!(page.contains("connected"));
        assert_eq!(waiting.await.expect("join"), Ok("abc".to_owned()));
    }

    #[tokio::test]
    async fn a_wrong_state_ends_the_attempt_without_a_code() {
        let redirect = LoopbackRedirect::bind().await.expect("bind");
        let uri = redirect.redirect_uri();
        let waiting = tokio::spawn(redirect.wait_for_code("expected", Duration::from_secs(5)));
        let page = get(&format!("{uri}?code=abc&state=forged<script>")).await;
        assert!(!page.contains("forged"), "nothing from the request is echoed");
        assert_eq!(waiting.await.expect("join"), Err(LoopbackError::StateMismatch));
    }

    #[tokio::test]
    async fn a_fixed_port_is_used_and_a_taken_one_is_reported() {
        let taken = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let port = taken.local_addr().expect("addr").port();
        assert_eq!(
            LoopbackRedirect::bind_port(port).await.err(),
            Some(LoopbackError::PortInUse(port))
        );
        drop(taken);
        let redirect = LoopbackRedirect::bind_port(port).await.expect("free again");
        assert_eq!(
            redirect.redirect_uri(),
            format!("http://127.0.0.1:{port}/callback")
        );
    }

    #[tokio::test]
    async fn a_refusal_is_reported_and_a_silent_browser_times_out() {
        let redirect = LoopbackRedirect::bind().await.expect("bind");
        let uri = redirect.redirect_uri();
        let waiting = tokio::spawn(redirect.wait_for_code("s", Duration::from_secs(5)));
        get(&format!("{uri}?error=access_denied&state=s")).await;
        assert_eq!(
            waiting.await.expect("join"),
            Err(LoopbackError::Denied("access_denied".into()))
        );
        let redirect = LoopbackRedirect::bind().await.expect("bind");
        let outcome = redirect.wait_for_code("s", Duration::from_millis(100)).await;
        assert!(matches!(outcome, Err(LoopbackError::TimedOut(_))));
    }
}
