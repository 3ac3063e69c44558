use chrono::TimeZone;

use super::*;
use crate::tickets::Priority;

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, h, 0, 0).unwrap()
}

fn ticket(id: i64, customer: &str, status: Status, tags: &str) -> Ticket {
    Ticket {
        id,
        subject: format!("Ticket {id}"),
        normalized_subject: format!("ticket {id}"),
        status,
        priority: Priority::Normal,
        area: Some("billing".into()),
        owner: Some("bob@example.test".into()),
        customer: customer.into(),
        customer_name: None,
        tags: tags.into(),
        created_at: at(1),
        updated_at: at(1),
        first_response_at: None,
        resolved_at: None,
        sla_policy: None,
        first_response_due: None,
        next_response_due: None,
        resolution_due: None,
        waiting_since: Some(at(1)),
        pending_since: None,
        sla_paused_secs: 0,
        sla_next_check: Some(at(5)),
        merged_into: None,
        pending_until: None,
        answered_at: None,
        linked_to: None,
        satisfaction: None,
    }
}

const NONE: &[(String, ParticipantRole)] = &[];

#[test]
fn the_source_becomes_an_alias_and_the_target_gains_its_tags() {
    let src = ticket(15, "amy@customer.test", Status::Pending, "refund,vip");
    let dst = ticket(12, "amy@customer.test", Status::Pending, "vip");
    let p = plan("MR", &src, &dst, (NONE, NONE), false, at(3)).unwrap();
    assert_eq!(p.source.status, Status::Merged);
    assert_eq!(p.source.merged_into, Some(12));
    assert_eq!(p.source.sla_next_check, None, "no clock runs on an alias");
    assert_eq!(p.target.tags, "vip,refund");
    assert_eq!(p.target.owner, dst.owner, "the target keeps its owner");
    assert_eq!(
        p.target.sla_next_check, dst.sla_next_check,
        "and its clocks"
    );
    assert_eq!(p.target.status, Status::Pending);
    assert!(p.joined.is_empty(), "the same customer joins nothing");
    assert_eq!(p.changes, ["tag refund added"]);
}

#[test]
fn an_open_source_reopens_a_resolved_target() {
    let src = ticket(15, "amy@customer.test", Status::Open, "");
    let dst = ticket(12, "amy@customer.test", Status::Resolved, "");
    let p = plan("MR", &src, &dst, (NONE, NONE), false, at(3)).unwrap();
    assert_eq!(p.target.status, Status::Open);
    assert_eq!(
        p.changes,
        ["status resolved -> open: MR-15 was waiting for support"]
    );
}

#[test]
fn refusals_name_what_to_do() {
    let amy = |id, s| ticket(id, "amy@customer.test", s, "");
    let t12 = amy(12, Status::Open);
    assert_eq!(
        plan("MR", &t12, &t12, (NONE, NONE), true, at(3)),
        Err(MergeRefusal::IntoItself)
    );
    let mut merged = amy(13, Status::Merged);
    merged.merged_into = Some(12);
    let e = plan(
        "MR",
        &amy(15, Status::Open),
        &merged,
        (NONE, NONE),
        true,
        at(3),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "MR-13 was merged into MR-12: name MR-12 instead"
    );
    let e = plan("MR", &merged, &t12, (NONE, NONE), true, at(3)).unwrap_err();
    assert_eq!(e.to_string(), "MR-13 was merged into MR-12 already");
    let ben = ticket(15, "ben@other.test", Status::Open, "");
    let e = plan("MR", &ben, &t12, (NONE, NONE), false, at(3)).unwrap_err();
    assert!(matches!(e, MergeRefusal::OtherCustomer { .. }), "{e}");
    assert!(e.to_string().contains("add \"force\""), "{e}");
}

#[test]
fn forced_across_customers_the_other_customer_joins_in_cc() {
    let ben = ticket(15, "ben@other.test", Status::Open, "");
    let amy = ticket(12, "amy@customer.test", Status::Open, "");
    let source_list = vec![
        ("ben@other.test".to_string(), ParticipantRole::Customer),
        ("cat@other.test".to_string(), ParticipantRole::Cc),
        // Already on the target: not added twice.
        ("dan@customer.test".to_string(), ParticipantRole::Cc),
        // The target's own customer never becomes a Cc of her own ticket.
        ("AMY@customer.test".to_string(), ParticipantRole::Cc),
    ];
    let target_list = vec![("dan@customer.test".to_string(), ParticipantRole::Cc)];
    let p = plan("MR", &ben, &amy, (&source_list, &target_list), true, at(3)).unwrap();
    assert_eq!(
        p.joined,
        [
            ("ben@other.test".to_string(), ParticipantRole::Cc),
            ("cat@other.test".to_string(), ParticipantRole::Cc),
        ]
    );
}
