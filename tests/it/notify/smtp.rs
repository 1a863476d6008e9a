//! A small SMTP receiver on tokio, on loopback: it speaks real SMTP (EHLO, MAIL, RCPT, DATA
//! with dot-unstuffing, RSET, NOOP, QUIT) to lettre, keeps what it receives, and can go down
//! and come back on the same port, as a relay does. With a certificate it offers STARTTLS
//! or speaks implicit TLS (tokio-rustls), as a real relay would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// One received message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as received, dot-unstuffed, CRLF line ends.
    pub data: String,
    /// Whether it came over TLS.
    pub tls: bool,
    /// The user name the client authenticated as (AUTH PLAIN, offered over TLS only).
    pub user: Option<String>,
}

impl Mail {
    /// A header's value, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The body, quoted-printable decoded when so encoded, with LF line ends.
    pub fn body(&self) -> String {
        let raw = self
            .data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        let qp = self
            .header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        let text = if qp { unquote(&raw) } else { raw };
        text.replace("\r\n", "\n")
    }

    /// The path of the confirmation link in the body (`/confirm/...`).
    pub fn link_path(&self) -> Option<String> {
        let body = self.body();
        let start = body.find("/confirm/")?;
        let rest = &body[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    }
}

/// Quoted-printable decoding (RFC 2045 §6.7), for ASCII text.
fn unquote(text: &str) -> String {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How the relay secures sessions.
#[derive(Clone)]
pub enum Security {
    Plain,
    /// Offers STARTTLS in its EHLO reply.
    StartTls(tokio_rustls::TlsAcceptor),
    /// TLS from the first byte (port 465 style).
    Implicit(tokio_rustls::TlsAcceptor),
}

pub struct Relay {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    task: Option<JoinHandle<()>>,
    security: Security,
    /// Recipients refused at RCPT with a permanent error, as for an unknown mailbox.
    refused: Arc<Mutex<Vec<String>>>,
    /// While set, a message's data is taken in but never answered (a relay that stalls).
    hold: Arc<std::sync::atomic::AtomicBool>,
    /// Messages taken in while holding, never acknowledged.
    held: Arc<Mutex<Vec<Mail>>>,
}

impl Relay {
    pub async fn start() -> Relay {
        Relay::start_with(Security::Plain).await
    }

    pub async fn start_with(security: Security) -> Relay {
        let mut relay = Relay {
            port: 0,
            mails: Arc::new(Mutex::new(Vec::new())),
            task: None,
            security,
            refused: Arc::new(Mutex::new(Vec::new())),
            hold: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            held: Arc::new(Mutex::new(Vec::new())),
        };
        relay.resume().await;
        relay
    }

    /// Listens (again) on its port.
    pub async fn resume(&mut self) {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket
            .bind(format!("127.0.0.1:{}", self.port).parse().expect("address"))
            .expect("bind the relay");
        let listener = socket.listen(16).expect("listen");
        self.port = listener.local_addr().expect("address").port();
        let mails = self.mails.clone();
        let security = self.security.clone();
        let refused = self.refused.clone();
        let hold = Hold {
            on: self.hold.clone(),
            held: self.held.clone(),
        };
        self.task = Some(tokio::spawn(async move {
            // Dropping the set (when this task is aborted) ends every open session.
            let mut sessions = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let mails = mails.clone();
                let security = security.clone();
                let refused = refused.clone();
                let hold = hold.clone();
                sessions.spawn(async move {
                    let _ = serve(stream, mails, security, refused, hold).await;
                });
            }
        }));
    }

    /// Goes down: stops listening and drops every open connection.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Refuses mail to `recipient` from now on (550 at RCPT).
    pub fn refuse(&self, recipient: &str) {
        self.refused
            .lock()
            .expect("refused")
            .push(recipient.to_string());
    }

    /// From now on, takes in each message's data and then never answers (or, with `false`,
    /// answers as usual again).
    pub fn hold(&self, on: bool) {
        self.hold.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Waits until a message was taken in and left unanswered.
    pub async fn wait_for_held(&self) -> Mail {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(mail) = self.held.lock().expect("held").first().cloned() {
                return mail;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message reached the holding relay"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("mails").clone()
    }

    /// Waits until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("expected {n} messages, got {}: {mails:#?}", mails.len());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for a message to `to` whose subject contains `subject`.
    pub async fn wait_for_mail(&self, to: &str, subject: &str) -> Mail {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.mails().into_iter().find(|m| {
                m.to.iter().any(|t| t == to)
                    && m.header("Subject").is_some_and(|s| s.contains(subject))
            });
            if let Some(mail) = found {
                return mail;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "no message to {to} about {subject:?}; got {:#?}",
                    self.mails()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_string(),
        _ => arg.split_whitespace().next().unwrap_or("").to_string(),
    }
}

#[derive(Clone)]
struct Hold {
    on: Arc<std::sync::atomic::AtomicBool>,
    held: Arc<Mutex<Vec<Mail>>>,
}

async fn serve(
    stream: TcpStream,
    mails: Arc<Mutex<Vec<Mail>>>,
    security: Security,
    refused: Arc<Mutex<Vec<String>>>,
    hold: Hold,
) -> std::io::Result<()> {
    match security {
        Security::Plain => {
            session(stream, mails, &refused, &hold, false, true, false).await?;
        }
        Security::Implicit(acceptor) => {
            let stream = acceptor.accept(stream).await?;
            session(stream, mails, &refused, &hold, false, true, true).await?;
        }
        Security::StartTls(acceptor) => {
            if let Some(stream) =
                session(stream, mails.clone(), &refused, &hold, true, true, false).await?
            {
                let stream = acceptor.accept(stream).await?;
                session(stream, mails, &refused, &hold, false, false, true).await?;
            }
        }
    }
    Ok(())
}

/// One SMTP session; returns the stream when the client asked for STARTTLS.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    mails: Arc<Mutex<Vec<Mail>>>,
    refused: &Mutex<Vec<String>>,
    hold: &Hold,
    offer_starttls: bool,
    greet: bool,
    tls: bool,
) -> std::io::Result<Option<S>> {
    let mut read = BufReader::new(stream);
    if greet {
        read.get_mut()
            .write_all(b"220 relay.test ESMTP ready\r\n")
            .await?;
    }
    let mut from = String::new();
    let mut to = Vec::new();
    let mut user = None;
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") && offer_starttls {
            b"250-relay.test\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 PIPELINING\r\n"
        } else if upper.starts_with("EHLO") && tls {
            b"250-relay.test\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 PIPELINING\r\n"
        } else if upper.starts_with("EHLO") {
            b"250-relay.test\r\n250-8BITMIME\r\n250 PIPELINING\r\n"
        } else if upper.starts_with("AUTH PLAIN ") && tls {
            // authzid NUL authcid NUL password; this relay takes "s3cret" only.
            let decoded = data_encoding::BASE64
                .decode(command[11..].trim().as_bytes())
                .unwrap_or_default();
            let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
            match parts.as_slice() {
                [_, name, b"s3cret"] => {
                    user = Some(String::from_utf8_lossy(name).into_owned());
                    b"235 2.7.0 authenticated\r\n"
                }
                _ => b"535 5.7.8 authentication failed\r\n",
            }
        } else if upper == "STARTTLS" && offer_starttls {
            read.get_mut().write_all(b"220 2.0.0 go ahead\r\n").await?;
            return Ok(Some(read.into_inner()));
        } else if upper.starts_with("HELO") {
            b"250 relay.test\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command[10..]);
            to.clear();
            b"250 2.1.0 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = address(&command[8..]);
            if refused.lock().expect("refused").contains(&rcpt) {
                b"550 5.1.1 no such mailbox\r\n"
            } else {
                to.push(rcpt);
                b"250 2.1.5 OK\r\n"
            }
        } else if upper == "DATA" {
            read.get_mut()
                .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if read.read_line(&mut line).await? == 0 {
                    return Ok(None);
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            if hold.on.load(std::sync::atomic::Ordering::SeqCst) {
                hold.held.lock().expect("held").push(Mail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data: data.clone(),
                    tls,
                    user: user.clone(),
                });
                // Never answer: the client is left waiting for the outcome.
                std::future::pending::<()>().await;
            }
            mails.lock().expect("mails").push(Mail {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
                tls,
                user: user.clone(),
            });
            b"250 2.0.0 queued\r\n"
        } else if upper == "RSET" {
            to.clear();
            b"250 OK\r\n"
        } else if upper == "NOOP" {
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            read.get_mut().write_all(b"221 bye\r\n").await?;
            return Ok(None);
        } else {
            b"502 5.5.2 command not recognised\r\n"
        };
        read.get_mut().write_all(reply).await?;
    }
}
