use super::*;

fn unit(asked: Asked) -> UnitOfWork<'static> {
    UnitOfWork::new(
        Loaded {
            asked,
            ..Loaded::default()
        },
        Utc::now(),
    )
}

#[test]
fn facts_asked_for_read_as_loaded() {
    let mut asked = Asked::default();
    asked.recipients.insert("bob@example.test".into());
    asked.message_ids.insert("m1@x.test".into());
    asked.tickets.insert(7);
    asked.participants.insert(7);
    let u = unit(asked);
    assert_eq!(
        u.sent_recently("bob@example.test", &[MessageKind::Notification]),
        0
    );
    assert!(!u.is_internal_id("m1@x.test"));
    assert!(
        u.ticket(7).is_none(),
        "asked for and not found: there is none"
    );
    assert!(u.participants(7).is_empty());
}

#[test]
#[should_panic(expected = "automatic mail counts of \"eve@evil.test\" were not loaded")]
fn a_rate_limit_nobody_loaded_fails_loudly() {
    let u = unit(Asked::default());
    u.sent_recently("eve@evil.test", &[MessageKind::Ack]);
}

#[test]
#[should_panic(expected = "stored messages of \"n1@example.test\" were not loaded")]
fn an_id_nobody_looked_up_is_never_taken_for_customer_mail() {
    unit(Asked::default()).is_internal_id("n1@example.test");
}

#[test]
#[should_panic(expected = "participants of 3 were not loaded")]
fn participants_nobody_loaded_fail_loudly() {
    unit(Asked::default()).is_participant(3, "a@b.test");
}

#[test]
fn what_the_batch_creates_is_known() {
    let mut u = unit(Asked::default());
    let t = u.insert_ticket(&NewTicket {
        subject: "s",
        normalized_subject: "s",
        priority: Priority::Normal,
        area: None,
        owner: None,
        customer: "a@b.test",
        customer_name: None,
        tags: "",
        sla_policy: None,
        linked_to: None,
    });
    assert!(u.participants(t.id).is_empty());
    assert!(u.latest_customer_mail(t.id).is_none());
    assert!(u.last_notification(t.id, "bob@example.test").is_none());
    assert!(!u.ticket_has_attachment(t.id, "00"));
}
