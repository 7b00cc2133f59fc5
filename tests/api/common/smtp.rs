//! A real SMTP server on loopback: enough of RFC 5321 for lettre (EHLO/HELO, MAIL FROM,
//! RCPT TO, DATA, RSET, NOOP, QUIT), keeping every accepted message. It listens on a random
//! port, can refuse given recipients with 550, and can be stopped (port closed, open
//! connections cut) and restarted on the same port.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// One message as the server accepted it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA, dot-unstuffed, CRLF line ends kept.
    pub data: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<Received>>,
    rejected: Mutex<HashSet<String>>,
}

struct Running {
    stop: Arc<AtomicBool>,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

pub struct SmtpSink {
    port: u16,
    shared: Arc<Shared>,
    running: Mutex<Option<Running>>,
}

impl SmtpSink {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let sink = Self { port, shared: Arc::default(), running: Mutex::new(None) };
        sink.serve(listener);
        sink
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Plain SMTP, as lettre reads `smtp://` without `?tls=`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Closes the port and cuts every open connection (a crashed or stopped server).
    pub fn stop(&self) {
        let Some(running) = self.running.lock().unwrap().take() else { return };
        running.stop.store(true, Ordering::SeqCst);
        running.accept.join().expect("accept thread");
        for connection in running.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(Shutdown::Both);
        }
    }

    /// Listens again on the same port.
    pub fn restart(&self) {
        assert!(self.running.lock().unwrap().is_none(), "sink already running");
        // std sets SO_REUSEADDR, so the old connections' TIME_WAIT does not block the port.
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("sink port {} not free yet: {e}", self.port);
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("cannot rebind SMTP sink port {}: {e}", self.port),
            }
        };
        self.serve(listener);
    }

    /// Answers `550` to `RCPT TO:<address>` from now on.
    pub fn reject_recipient(&self, address: &str) {
        self.shared.rejected.lock().unwrap().insert(address.to_owned());
    }

    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// Waits (without blocking the async runtime the worker shares) until at least `count`
    /// messages arrived; panics after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} messages within {timeout:?}, got {}",
                messages.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn serve(&self, listener: TcpListener) {
        listener.set_nonblocking(true).expect("nonblocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let accept = {
            let (stop, connections, shared) =
                (stop.clone(), connections.clone(), self.shared.clone());
            std::thread::spawn(move || {
                // The listener lives in this thread: when it returns, the port is closed.
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let _ = stream.set_nonblocking(false);
                            if let Ok(clone) = stream.try_clone() {
                                connections.lock().unwrap().push(clone);
                            }
                            let shared = shared.clone();
                            std::thread::spawn(move || {
                                let _ = session(stream, &shared);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        *self.running.lock().unwrap() = Some(Running { stop, accept, connections });
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    out.write_all(b"220 techx-test-sink ESMTP\r\n")?;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            "250-techx-test-sink\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES".into()
        } else if upper.starts_with("HELO") {
            "250 techx-test-sink".into()
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = Some(angle_address(&command["MAIL FROM:".len()..]));
            rcpt_to.clear();
            "250 2.1.0 OK".into()
        } else if upper.starts_with("RCPT TO:") {
            let address = angle_address(&command["RCPT TO:".len()..]);
            if mail_from.is_none() {
                "503 5.5.1 MAIL first".into()
            } else if shared.rejected.lock().unwrap().contains(&address) {
                format!("550 5.1.1 <{address}>: no such mailbox")
            } else {
                rcpt_to.push(address);
                "250 2.1.5 OK".into()
            }
        } else if upper == "DATA" {
            match (&mail_from, rcpt_to.is_empty()) {
                (Some(from), false) => {
                    out.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")?;
                    let data = read_data(&mut reader)?;
                    shared.messages.lock().unwrap().push(Received {
                        mail_from: from.clone(),
                        rcpt_to: std::mem::take(&mut rcpt_to),
                        data,
                    });
                    mail_from = None;
                    "250 2.0.0 queued".into()
                }
                _ => "503 5.5.1 MAIL and RCPT first".into(),
            }
        } else if upper == "RSET" {
            mail_from = None;
            rcpt_to.clear();
            "250 2.0.0 OK".into()
        } else if upper.starts_with("NOOP") {
            "250 2.0.0 OK".into()
        } else if upper == "QUIT" {
            out.write_all(b"221 2.0.0 bye\r\n")?;
            return Ok(());
        } else {
            "502 5.5.2 command not recognised".into()
        };
        out.write_all(format!("{reply}\r\n").as_bytes())?;
    }
}

/// `<a@b> SIZE=123` → `a@b`.
fn angle_address(argument: &str) -> String {
    let argument = argument.trim();
    match (argument.find('<'), argument.find('>')) {
        (Some(open), Some(close)) if open < close => argument[open + 1..close].to_owned(),
        _ => argument.split_whitespace().next().unwrap_or("").to_owned(),
    }
}

/// Reads DATA up to the lone `.` line, undoing dot-stuffing.
fn read_data(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = if line.starts_with(b"..") { &line[1..] } else { &line[..] };
        data.extend_from_slice(unstuffed);
    }
}

/// A received mail, decoded: headers, and the text/plain and text/html parts found by
/// walking the MIME tree (not mail-parser's fallbacks, which invent a missing part).
#[derive(Debug, Clone)]
pub struct ParsedMail {
    pub to: Vec<String>,
    pub from: String,
    pub subject: String,
    pub message_id: String,
    pub content_language: Option<String>,
    /// `multipart/alternative` for our mails.
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
}

impl ParsedMail {
    pub fn parse(raw: &[u8]) -> Self {
        let message = MessageParser::default().parse(raw).expect("a parseable message");
        let addresses = |a: Option<&mail_parser::Address>| -> Vec<String> {
            a.map(|a| a.iter().filter_map(|a| a.address()).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let root = message.root_part();
        let content_type = root
            .content_type()
            .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")))
            .unwrap_or_default();
        let mut text = None;
        let mut html = None;
        for part in &message.parts {
            let kind = part
                .content_type()
                .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")));
            match (&part.body, kind.as_deref()) {
                (PartType::Text(body), Some("text/plain")) => text = Some(body.to_string()),
                (PartType::Html(body), Some("text/html")) => html = Some(body.to_string()),
                _ => {}
            }
        }
        Self {
            to: addresses(message.to()),
            from: addresses(message.from()).join(","),
            subject: message.subject().unwrap_or_default().to_owned(),
            message_id: message.message_id().unwrap_or_default().to_owned(),
            content_language: message.header_raw("Content-Language").map(|v| v.trim().to_owned()),
            content_type,
            text,
            html,
        }
    }
}
