//! The one writer of stdout.
//!
//! Every Airbyte message goes through an [`Output`] handle into a channel drained by a single thread that owns
//! stdout behind a large buffer, so messages never interleave however many streams run at once. The buffer is
//! written whenever it fills or the channel runs dry, so a slow sync still shows its progress promptly.
//!
//! Records travel as the page they came from plus the indices to emit: the writer frames each one straight
//! into its buffer, so a record's bytes are copied once between the response body and stdout, and a page
//! waiting in the channel takes no more memory than its body.
//!
//! Everything written passes the [`Redactor`] on the way: non-record messages lose every word that carries
//! the access token or looks like a credential, records lose the token (a hostile server or proxy may echo
//! the `Authorization` header anywhere). The token is known once the config is read ([`Output::protect`]).
//!
//! If the reader of stdout goes away (a closed pipe), the writer stops, every later send fails with
//! [`OutputClosed`], and the command ends quietly instead of panicking.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::page::Page;
use crate::protocol::{LogLevel, Message, RecordFrame};
use crate::redact::Redactor;

/// The redactor the writer applies, set once the token is known.
type SharedRedactor = Arc<RwLock<Arc<Redactor>>>;

/// Bytes buffered before stdout is written, and the channel's depth in batches.
const BUFFER_BYTES: usize = 256 << 10;
const CHANNEL_BATCHES: usize = 4;

/// What the writer thread receives.
enum Batch {
    /// Complete lines, ready to write.
    Lines(Vec<u8>),
    /// RECORD messages for some items of a page.
    Records {
        page: Arc<Page>,
        frame: RecordFrame,
        items: Vec<u32>,
    },
}

/// stdout is gone: nobody reads what we write any more.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed by its reader")]
pub struct OutputClosed;

/// A cheap, cloneable handle to the stdout writer.
#[derive(Clone)]
pub struct Output {
    sender: mpsc::Sender<Batch>,
    debug: Arc<AtomicBool>,
    redactor: SharedRedactor,
}

/// The writer thread; [`Writer::finish`] waits until everything sent has reached stdout.
pub struct Writer {
    thread: JoinHandle<io::Result<()>>,
}

impl Output {
    /// Starts the writer thread on `sink` (stdout in the binary).
    pub fn start(sink: impl Write + Send + 'static, debug: bool) -> (Output, Writer) {
        let (sender, receiver) = mpsc::channel(CHANNEL_BATCHES);
        let redactor = SharedRedactor::default();
        let writer_redactor = Arc::clone(&redactor);
        let thread = std::thread::Builder::new()
            .name("stdout-writer".into())
            .spawn(move || drain(receiver, sink, &writer_redactor))
            .expect("spawn the stdout writer thread");
        (
            Output {
                sender,
                debug: Arc::new(AtomicBool::new(debug)),
                redactor,
            },
            Writer { thread },
        )
    }

    /// Sends a batch of complete lines.
    pub async fn send_lines(&self, lines: Vec<u8>) -> Result<(), OutputClosed> {
        if lines.is_empty() {
            return Ok(());
        }
        self.sender
            .send(Batch::Lines(lines))
            .await
            .map_err(|_| OutputClosed)
    }

    /// Sends one RECORD message for each of `page.items[i]`, `i` in `items`, framed by `frame`.
    pub async fn send_records(
        &self,
        page: Arc<Page>,
        frame: RecordFrame,
        items: Vec<u32>,
    ) -> Result<(), OutputClosed> {
        if items.is_empty() {
            return Ok(());
        }
        self.sender
            .send(Batch::Records { page, frame, items })
            .await
            .map_err(|_| OutputClosed)
    }

    pub async fn send(&self, message: &Message) -> Result<(), OutputClosed> {
        let mut line = Vec::with_capacity(256);
        message.write_line(&mut line);
        self.send_lines(line).await
    }

    pub async fn log(&self, level: LogLevel, text: impl Into<String>) -> Result<(), OutputClosed> {
        if level == LogLevel::Debug && !self.debug_enabled() {
            return Ok(());
        }
        self.send(&Message::log(level, text)).await
    }

    /// From now on, cuts `token` (and any piece of it) out of everything written.
    pub fn protect(&self, token: &str) {
        let redactor = Arc::new(Redactor::for_token(token));
        *self
            .redactor
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = redactor;
    }

    pub fn debug_enabled(&self) -> bool {
        self.debug.load(Ordering::Relaxed)
    }
}

impl Writer {
    /// Waits for every message sent before all [`Output`] handles were dropped to reach the sink.
    pub fn finish(self) -> Result<(), OutputClosed> {
        match self.thread.join() {
            Ok(Ok(())) => Ok(()),
            _ => Err(OutputClosed),
        }
    }
}

fn drain(
    mut receiver: mpsc::Receiver<Batch>,
    mut sink: impl Write,
    redactor: &SharedRedactor,
) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(BUFFER_BYTES);
    let mut write_out = |buffer: &mut Vec<u8>| -> io::Result<()> {
        sink.write_all(buffer)?;
        buffer.clear();
        sink.flush()
    };
    while let Some(batch) = receiver.blocking_recv() {
        let redactor = Arc::clone(
            &redactor
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        match batch {
            Batch::Lines(mut lines) => {
                redactor.json_lines(&mut lines);
                buffer.extend_from_slice(&lines);
            }
            Batch::Records { page, frame, items } => {
                for index in items {
                    let item = &page.items[index as usize];
                    let updated = if frame.cdc {
                        page.updated_json(item)
                    } else {
                        None
                    };
                    let text = page.text(item);
                    if redactor.record_leaks(text.as_bytes()) {
                        let clean = String::from_utf8(redactor.record(text.as_bytes()))
                            .expect("ASCII words are replaced by ASCII");
                        frame.write(&mut buffer, &clean, page.is_single_line(), updated);
                    } else {
                        frame.write(&mut buffer, text, page.is_single_line(), updated);
                    }
                    if buffer.len() >= BUFFER_BYTES {
                        write_out(&mut buffer)?;
                    }
                }
            }
        }
        if buffer.len() >= BUFFER_BYTES || receiver.is_empty() {
            write_out(&mut buffer)?;
        }
    }
    write_out(&mut buffer)
}
