//! The client's answer to each way serve can behave, against a stand-in
//! listener (a real serve cannot be made to misbehave on cue: the
//! integration tests in tests/it/mta.rs run the real one, and kill it).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use super::*;
use crate::pipeline::OutcomeKind;

const MAIL: &[u8] = b"From: a@c.test\r\nSubject: hi\r\n\r\nhello\r\n";

fn socket_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("in.sock")
}

/// One hand-off of MAIL with `req` to a listener that reads the request and
/// the mail, then does `then` with the connection. Returns what the client
/// made of it and what the listener read.
fn exchange(
    req: &Request,
    timeout: Duration,
    then: impl FnOnce(&mut UnixStream) + Send + 'static,
) -> (HandOff, Request, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = socket_path(&dir);
    let listener = UnixListener::bind(&path).expect("bind");
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        reader.read_line(&mut line).expect("request line");
        let req: Request = serde_json::from_str(&line).expect("request");
        let mut mail = vec![0; req.len as usize];
        reader.read_exact(&mut mail).expect("mail");
        then(&mut stream);
        (req, mail)
    });
    let got = hand_off(&path, req, MAIL, timeout);
    let (seen, mail) = server.join().expect("stand-in");
    (got, seen, mail)
}

fn answer(stream: &mut UnixStream, reply: &Reply) {
    let mut line = serde_json::to_vec(reply).expect("json");
    line.push(b'\n');
    stream.write_all(&line).expect("answer");
}

fn request() -> Request {
    Request::new("-", MAIL.len(), None)
}

#[test]
fn no_socket_means_store_it_here() {
    let dir = tempfile::tempdir().expect("tempdir");
    let got = hand_off(&socket_path(&dir), &request(), MAIL, REPLY_TIMEOUT);
    assert!(
        matches!(got, HandOff::Direct(ref r) if r.contains("no serve listening")),
        "{got:?}"
    );
}

#[test]
fn a_socket_left_by_a_killed_serve_means_store_it_here() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = socket_path(&dir);
    drop(UnixListener::bind(&path).expect("bind"));
    assert!(
        path.exists(),
        "the socket file stays after its listener is gone"
    );
    let got = hand_off(&path, &request(), MAIL, REPLY_TIMEOUT);
    assert!(matches!(got, HandOff::Direct(_)), "{got:?}");
}

#[test]
fn a_stored_answer_carries_the_outcome_and_the_mail_arrives_whole() {
    let req = Request::new("-", MAIL.len(), Some("too big".into()));
    let (got, seen, mail) = exchange(&req, REPLY_TIMEOUT, |s| {
        answer(
            s,
            &Reply::Stored {
                outcome: Outcome {
                    file: "-".into(),
                    outcome: OutcomeKind::Created,
                    ticket_ref: Some("MR-7".into()),
                    reason: None,
                },
            },
        )
    });
    match got {
        HandOff::Stored(o) => {
            assert_eq!(o.outcome, OutcomeKind::Created);
            assert_eq!(o.ticket_ref.as_deref(), Some("MR-7"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mail, MAIL);
    assert_eq!(
        (seen.v, seen.origin.as_str(), seen.len),
        (VERSION, "-", MAIL.len() as u64)
    );
    assert_eq!(seen.rejected.as_deref(), Some("too big"));
}

#[test]
fn serve_gone_after_reading_the_mail_means_store_it_here() {
    // Serve may have committed it: stored again, it is a duplicate.
    let (got, ..) = exchange(&request(), REPLY_TIMEOUT, |_| {});
    assert!(
        matches!(got, HandOff::Direct(ref r) if r.contains("without an answer")),
        "{got:?}"
    );
}

#[test]
fn a_later_answer_and_a_silent_serve_mean_retry_later() {
    let (got, ..) = exchange(&request(), REPLY_TIMEOUT, |s| {
        answer(
            s,
            &Reply::Later {
                error: "database unavailable".into(),
            },
        )
    });
    assert!(
        matches!(got, HandOff::Later(ref e) if e == "database unavailable"),
        "{got:?}"
    );
    let (got, ..) = exchange(&request(), Duration::from_millis(200), |s| {
        // No answer: holds the connection until the client gives up and closes it.
        let _ = s.read(&mut [0u8; 1]);
    });
    assert!(
        matches!(got, HandOff::Later(ref e) if e.contains("did not answer")),
        "{got:?}"
    );
}

#[test]
fn an_unreadable_answer_means_store_it_here() {
    let (got, ..) = exchange(&request(), REPLY_TIMEOUT, |s| {
        s.write_all(b"HTTP/1.1 400 Bad Request\r\n").expect("write")
    });
    assert!(
        matches!(got, HandOff::Direct(ref r) if r.contains("unreadable answer")),
        "{got:?}"
    );
}

#[tokio::test]
async fn bind_replaces_a_stale_socket_and_leaves_others_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = socket_path(&dir);
    drop(UnixListener::bind(&path).expect("bind"));
    let listener = bind(&path).expect("a stale socket is replaced");
    let mode = std::fs::metadata(&path)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660, "owner and group only");
    let again = bind(&path).err().expect("a live socket is left alone");
    assert!(again.to_string().contains("listening on it"), "{again}");
    drop(listener);

    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, "keep me").expect("write");
    let err = bind(&file).err().expect("a file is not replaced");
    assert!(err.to_string().contains("is not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).expect("file"), "keep me");
}

#[tokio::test]
async fn serve_reads_a_whole_mail_and_refuses_what_it_cannot_take() {
    use tokio::io::AsyncWriteExt;
    let over = Request::new("-", 2000, None);
    let mut future = Request::new("-", 5, None);
    future.v = VERSION + 1;
    let cases: [(Request, &[u8], Option<&str>); 4] = [
        (Request::new("-", 5, None), b"hello", None),
        (over, b"", Some("over serve's max_message_size of 1000")),
        (future, b"hello", Some("request version 2")),
        (Request::new("-", 5, None), b"hel", Some("cut short")),
    ];
    for (req, body, refusal) in cases {
        let (mut client, server) = tokio::net::UnixStream::pair().expect("pair");
        let mut bytes = serde_json::to_vec(&req).expect("json");
        bytes.push(b'\n');
        bytes.extend_from_slice(body);
        client.write_all(&bytes).await.expect("write");
        client.shutdown().await.expect("shutdown");
        let (rd, _wr) = server.into_split();
        let budget = std::sync::Arc::new(tokio::sync::Semaphore::new(2));
        match (listen::read_mail(rd, &budget, 1000).await, refusal) {
            (Ok((item, _permit)), None) => {
                assert_eq!(item.raw, body);
                assert_eq!(item.origin, "-");
            }
            (Err(Reply::Direct { reason }), Some(want)) => {
                assert!(reason.contains(want), "{reason}")
            }
            (other, _) => panic!("{:?}", other.map(|(i, _)| i.raw)),
        }
    }
}
