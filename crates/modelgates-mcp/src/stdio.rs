//! The stdio transport: stdin/stdout registered with the runtime's reactor when they are pipes
//! or Unix sockets, tokio's blocking-pool stdio otherwise.
//!
//! `tokio::io::stdin()` performs every read on the blocking thread pool, which costs two
//! thread hand-offs per message. MCP clients start servers with pipes (Python's
//! `subprocess`) or Unix socket pairs (Node's `child_process`); both can be polled by the
//! reactor like any other descriptor, which took a `workspace_get` round trip from ~150 µs to
//! ~65 µs (docs/benchmarks.md). Terminals and regular files keep tokio's stdio.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use tokio::io::{AsyncRead, AsyncWrite};

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

/// stdin and stdout as an rmcp transport (`(reader, writer)`).
///
/// A pipe or socket is switched to non-blocking mode, which affects every process sharing that
/// open description; stdout is left to tokio's stdio when stderr shares its description (as
/// with `2>&1`), so log lines written to stderr never see `EAGAIN`.
pub fn transport() -> io::Result<(StdinReader, StdoutWriter)> {
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
