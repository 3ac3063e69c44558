use super::*;
use crate::outbound::Failure;

fn to(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn refusal(address: &str, code: u16) -> Refusal {
    Refusal {
        address: address.into(),
        code: Some(code),
        text: format!("{code} reply for {address}"),
        permanent: code >= 500,
    }
}

fn delivered(accepted: &[&str], refused: Vec<Refusal>) -> std::result::Result<Delivery, SendError> {
    Ok(Delivery {
        accepted: to(accepted),
        refused,
    })
}

#[test]
fn a_permanent_refusal_is_final_and_the_others_get_it() {
    let all = to(&["a@x.test", "b@y.test"]);
    let o = account(
        &all,
        Progress::default(),
        &all,
        delivered(&["a@x.test"], vec![refusal("b@y.test", 550)]),
        true,
    );
    assert_eq!(o.next, Next::Sent);
    assert!(o.delivered_now);
    assert_eq!(o.progress.delivered, to(&["a@x.test"]));
    assert_eq!(o.progress.refused, vec![refusal("b@y.test", 550)]);
    assert!(o.progress.pending(&all).is_empty());
    let e = o.error.expect("the refusal is the row's error");
    assert!(e.contains("b@y.test (550 550 reply for b@y.test)"), "{e}");
}

#[test]
fn a_temporary_refusal_is_retried_for_that_recipient_only() {
    let all = to(&["a@x.test", "b@y.test", "c@z.test"]);
    let first = account(
        &all,
        Progress::default(),
        &all,
        delivered(
            &["a@x.test"],
            vec![refusal("b@y.test", 450), refusal("c@z.test", 550)],
        ),
        true,
    );
    assert_eq!(first.next, Next::Retry, "b is still waiting");
    assert!(first.delivered_now);
    let asked = first.progress.pending(&all);
    assert_eq!(asked, to(&["b@y.test"]), "only b is asked again");
    let second = account(
        &all,
        first.progress,
        &asked,
        delivered(&["b@y.test"], Vec::new()),
        true,
    );
    assert_eq!(second.next, Next::Sent);
    assert_eq!(second.progress.delivered, to(&["a@x.test", "b@y.test"]));
    assert_eq!(
        second.progress.refused,
        vec![refusal("c@z.test", 550)],
        "b's temporary refusal is gone, c's stays"
    );
}

#[test]
fn attempts_running_out_settle_the_waiting_ones_as_refused() {
    let all = to(&["a@x.test", "b@y.test"]);
    let before = Progress {
        delivered: to(&["a@x.test"]),
        refused: vec![refusal("b@y.test", 450)],
    };
    let o = account(
        &all,
        before,
        &to(&["b@y.test"]),
        Err(SendError::transient("connection refused")),
        false,
    );
    assert_eq!(o.next, Next::Sent, "a has it");
    assert!(!o.delivered_now);
    assert_eq!(
        o.progress.refused,
        vec![refusal("b@y.test", 450)],
        "b keeps the server's own reply, not the last connection error"
    );
}

#[test]
fn nobody_reached_is_failed_with_every_reason() {
    let all = to(&["a@x.test", "b@y.test"]);
    // Every recipient refused, one of them temporarily: a temporary error.
    let e = SendError::Transient(Failure {
        code: Some(550),
        text: "every recipient was refused".into(),
        refused: vec![refusal("a@x.test", 550), refusal("b@y.test", 451)],
    });
    let o = account(&all, Progress::default(), &all, Err(e), true);
    assert_eq!(o.next, Next::Retry);
    assert_eq!(o.progress.pending(&all), to(&["b@y.test"]));
    let again = account(
        &all,
        o.progress,
        &to(&["b@y.test"]),
        Err(SendError::transient("timed out")),
        false,
    );
    assert_eq!(again.next, Next::Failed);
    assert!(again.progress.delivered.is_empty());
    assert_eq!(again.progress.refused.len(), 2);
    // A permanent failure of the whole transaction (DATA refused) is
    // every asked recipient's answer at once.
    let data = SendError::Permanent(Failure::new(Some(554), "5.6.0 message refused"));
    let o = account(&all, Progress::default(), &all, Err(data), true);
    assert_eq!(o.next, Next::Failed);
    assert!(
        o.progress
            .refused
            .iter()
            .all(|r| r.permanent && r.code == Some(554) && r.text == "5.6.0 message refused")
    );
    assert_eq!(o.progress.refused.len(), 2);
}

#[test]
fn a_connection_failure_with_attempts_left_changes_nobody() {
    let all = to(&["a@x.test"]);
    let o = account(
        &all,
        Progress::default(),
        &all,
        Err(SendError::transient("connect: refused")),
        true,
    );
    assert_eq!(o.next, Next::Retry);
    assert!(
        o.progress.refused.is_empty(),
        "no refusal: the server never answered"
    );
    assert_eq!(o.error.as_deref(), Some("temporary: connect: refused"));
    let ok = account(
        &all,
        o.progress,
        &all,
        delivered(&["a@x.test"], Vec::new()),
        true,
    );
    assert_eq!((ok.next, ok.error), (Next::Sent, None));
}
