//! The stdio transport: stdin/stdout registered with the runtime's reactor when they are pipes
//! or Unix sockets, tokio's blocking-pool stdio otherwise.
//!
//! `tokio::io::stdin()` performs every read on the blocking thread pool, which costs two
//! thread hand-offs per message. MCP clients start servers with pipes (Python's
//! `subprocess`) or Unix socket pairs (Node's `child_process`); both can be polled by the
//! reactor like any other descriptor, which took a `workspace_get` round trip from ~150 µs to
//! ~65 µs (docs/benchmarks.md). Terminals and regular files keep tokio's stdio.
//!
//! Every line is checked before rmcp sees it: rmcp's line codec drops a line that is not a
//! JSON-RPC message without answering, so a client would wait forever. Invalid UTF-8, invalid
//! JSON (NaN, two messages on one line, nesting past 128) and overlong lines get the JSON-RPC
//! parse error (-32700); JSON that is not a message gets invalid request (-32600), with the id
//! when one can be read.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use crate::jsonrpc::{LINE_MAX, check_line, rpc_error};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// The reading half of the stdio transport.
pub type StdinReader = Box<dyn AsyncRead + Send + Unpin>;
/// The writing half of the stdio transport.
pub type StdoutWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// How a descriptor can be driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pipe,
    UnixSocket,
    Other,
}

fn kind(fd: &OwnedFd) -> io::Result<Kind> {
    let file_type = File::from(fd.try_clone()?).metadata()?.file_type();
    if file_type.is_fifo() {
        Ok(Kind::Pipe)
    } else if file_type.is_socket()
        && std::os::unix::net::UnixStream::from(fd.try_clone()?)
            .local_addr()
            .is_ok()
    {
        Ok(Kind::UnixSocket)
    } else {
        Ok(Kind::Other)
    }
}

/// stdin and stdout as an rmcp transport (`(reader, writer)`), behind the line check above,
/// and the task writing stdout: await it after the session ends, so that the last answers
/// reach the client before the process exits. Spawns its tasks on the current runtime.
pub fn transport() -> io::Result<((StdinReader, StdoutWriter), tokio::task::JoinHandle<()>)> {
    let (reader, writer) = raw_transport()?;
    Ok(guard(reader, writer))
}

/// Puts the line check between `reader`/`writer` and rmcp: returns the halves rmcp uses and
/// the task that writes `writer` (it ends once rmcp's output and the check's answers are
/// written).
pub fn guard(
    reader: StdinReader,
    writer: StdoutWriter,
) -> ((StdinReader, StdoutWriter), tokio::task::JoinHandle<()>) {
    let (to_rmcp, rmcp_in) = tokio::io::duplex(256 * 1024);
    let (rmcp_out, from_rmcp) = tokio::io::duplex(256 * 1024);
    let (errors_tx, errors_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    let (lines_tx, lines_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    tokio::spawn(filter_input(reader, to_rmcp, errors_tx));
    tokio::spawn(read_lines(from_rmcp, lines_tx));
    let writing = tokio::spawn(merge_output(lines_rx, writer, errors_rx));
    ((Box::new(rmcp_in), Box::new(rmcp_out)), writing)
}

/// rmcp's output, whole lines at a time (a last line without a newline gets one).
async fn read_lines(from_rmcp: tokio::io::DuplexStream, lines: tokio::sync::mpsc::Sender<Vec<u8>>) {
    let mut output = BufReader::new(from_rmcp);
    loop {
        let mut line = Vec::new();
        match output.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                if lines.send(line).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn filter_input(
    reader: StdinReader,
    mut to_rmcp: tokio::io::DuplexStream,
    errors: tokio::sync::mpsc::Sender<Vec<u8>>,
) {
    let mut input = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = (LINE_MAX + 1) as u64;
        match (&mut input).take(limit).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let verdict = if line.len() > LINE_MAX && !line.ends_with(b"\n") {
            // Skip the rest of the overlong line.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                match (&mut input).take(limit).read_until(b'\n', &mut rest).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) if rest.ends_with(b"\n") => break,
                    Ok(_) => {}
                }
            }
            Err(rpc_error(
                None,
                -32700,
                format!("Parse error: the message is longer than {LINE_MAX} bytes"),
            ))
        } else {
            check_line(&line)
        };
        match verdict {
            Ok(false) => {}
            Ok(true) => {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                if to_rmcp.write_all(&line).await.is_err() {
                    break;
                }
            }
            Err(answer) => {
                if errors.send(answer).await.is_err() {
                    break;
                }
            }
        }
    }
    // Dropping `to_rmcp` ends rmcp's input: the session closes as on a plain EOF.
}

/// Writes whole lines from rmcp and the check's answers to stdout, in arrival order; both
/// sources are channels, so neither is ever cut mid-line.
async fn merge_output(
    mut lines: tokio::sync::mpsc::Receiver<Vec<u8>>,
    mut writer: StdoutWriter,
    mut errors: tokio::sync::mpsc::Receiver<Vec<u8>>,
) {
    let (mut lines_open, mut errors_open) = (true, true);
    while lines_open || errors_open {
        let next = tokio::select! {
            line = lines.recv(), if lines_open => line.or_else(|| { lines_open = false; None }),
            answer = errors.recv(), if errors_open => answer.or_else(|| { errors_open = false; None }),
        };
        if let Some(bytes) = next
            && (writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err())
        {
            return;
        }
    }
}

/// stdin and stdout as they are, without the line check.
///
/// A pipe or socket is switched to non-blocking mode, which affects every process sharing that
/// open description; stdout is left to tokio's stdio when stderr shares its description (as
/// with `2>&1`), so log lines written to stderr never see `EAGAIN`.
fn raw_transport() -> io::Result<(StdinReader, StdoutWriter)> {
    let stdin = io::stdin().as_fd().try_clone_to_owned()?;
    let reader: StdinReader = match kind(&stdin)? {
        Kind::Pipe => Box::new(tokio::net::unix::pipe::Receiver::from_file(File::from(
            stdin,
        ))?),
        Kind::UnixSocket => Box::new(unix_stream(stdin)?),
        Kind::Other => Box::new(tokio::io::stdin()),
    };
    let stdout = io::stdout().as_fd().try_clone_to_owned()?;
    let writer: StdoutWriter = match kind(&stdout)? {
        _ if shares_with_stderr(&stdout) => Box::new(tokio::io::stdout()),
        Kind::Pipe => Box::new(tokio::net::unix::pipe::Sender::from_file(File::from(
            stdout,
        ))?),
        Kind::UnixSocket => Box::new(unix_stream(stdout)?),
        Kind::Other => Box::new(tokio::io::stdout()),
    };
    Ok((reader, writer))
}

fn unix_stream(fd: OwnedFd) -> io::Result<tokio::net::UnixStream> {
    let stream = std::os::unix::net::UnixStream::from(fd);
    stream.set_nonblocking(true)?;
    tokio::net::UnixStream::from_std(stream)
}

/// Whether stderr is the same file as `stdout` (then likely the same open description).
fn shares_with_stderr(stdout: &OwnedFd) -> bool {
    let meta = |fd: OwnedFd| File::from(fd).metadata().ok().map(|m| (m.dev(), m.ino()));
    let err = io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .and_then(meta);
    let out = stdout.try_clone().ok().and_then(meta);
    err.is_some() && err == out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_are_classified_by_what_they_are() {
        let (reader, writer) = io::pipe().unwrap();
        assert_eq!(kind(&OwnedFd::from(reader)).unwrap(), Kind::Pipe);
        assert_eq!(kind(&OwnedFd::from(writer)).unwrap(), Kind::Pipe);
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(kind(&OwnedFd::from(a)).unwrap(), Kind::UnixSocket);
        let file = tempfile::tempfile().unwrap();
        assert_eq!(kind(&OwnedFd::from(file)).unwrap(), Kind::Other);
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(kind(&OwnedFd::from(tcp)).unwrap(), Kind::Other);
    }
}
