//! A value this version does not know, read back from the database: an error
//! that names its table and column, never a default (issue 21).

use chrono::{DateTime, Utc};

use super::{Pool, SqliteUse, Store};
use crate::error::Error;

/// A migrated SQLite store with ticket 1 (due for an SLA look) and message 1.
async fn store() -> (tempfile::TempDir, Store, DateTime<Utc>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let store = Store::connect(&url, 2, SqliteUse::Long)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let now = Utc::now();
    raw(
        &store,
        "INSERT INTO tickets (id, subject, normalized_subject, status, priority, customer, \
         created_at, updated_at, sla_next_check) VALUES (1, 's', 's', 'open', 'normal', 'c@x.test', $1, $1, $1)",
        now,
    )
    .await;
    raw(
        &store,
        "INSERT INTO messages (id, ticket_id, direction, kind, message_id, content_hash, from_addr, created_at) \
         VALUES (1, 1, 'out', 'ack', '<a@x.test>', '', 'support@x.test', $1)",
        now,
    )
    .await;
    (dir, store, now)
}

/// Runs `sql` with `now` bound to $1, as a hand or a newer version would.
async fn raw(store: &Store, sql: &'static str, now: DateTime<Utc>) {
    let Pool::Sqlite(p) = &store.pool else {
        panic!("sqlite")
    };
    sqlx::query(sql).bind(now).execute(p).await.expect(sql);
}

/// The table, column and value of an `UnknownValue` error.
fn unknown<T: std::fmt::Debug>(r: crate::Result<T>) -> (&'static str, &'static str, String) {
    match r {
        Err(Error::UnknownValue(u)) => (u.table, u.column, u.value),
        other => panic!("expected an unknown value, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_outbox_status_names_outbox_status() {
    let (_dir, store, now) = store().await;
    raw(
        &store,
        "INSERT INTO outbox (message_row, ticket_id, kind, sender, recipients, status, next_attempt_at, created_at) \
         VALUES (1, 1, 'ack', 'support@x.test', 'c@x.test', 'sent', $1, $1)",
        now,
    )
    .await;
    assert_eq!(
        store.outbox_list().await.expect("known")[0].status.as_str(),
        "sent"
    );
    raw(
        &store,
        "UPDATE outbox SET status = 'bounced' WHERE $1 IS NOT NULL",
        now,
    )
    .await;
    let (table, column, value) = unknown(store.outbox_list().await);
    assert_eq!(
        (table, column, value.as_str()),
        ("outbox", "status", "bounced")
    );
}

#[tokio::test]
async fn an_unknown_event_kind_names_events_kind() {
    let (_dir, store, now) = store().await;
    raw(
        &store,
        "INSERT INTO events (ticket_id, kind, detail, created_at) VALUES (1, 'routing', 'r', $1)",
        now,
    )
    .await;
    assert_eq!(
        store.ticket_events(1).await.expect("known")[0]
            .kind
            .as_str(),
        "routing"
    );
    raw(
        &store,
        "UPDATE events SET kind = 'gossip' WHERE $1 IS NOT NULL",
        now,
    )
    .await;
    let (table, column, value) = unknown(store.ticket_events(1).await);
    assert_eq!(
        (table, column, value.as_str()),
        ("events", "kind", "gossip")
    );
}

#[tokio::test]
async fn an_unknown_participant_role_names_participants_role() {
    let (_dir, store, now) = store().await;
    raw(
        &store,
        "INSERT INTO participants (ticket_id, email, role) SELECT 1, 'c@x.test', 'boss' WHERE $1 IS NOT NULL",
        now,
    )
    .await;
    let (table, column, value) = unknown(store.ticket_participants(1).await);
    assert_eq!(
        (table, column, value.as_str()),
        ("participants", "role", "boss")
    );
}

/// The scheduler's read of the alerts sent so far (was: an unknown level
/// read as a warning, an unknown target skipped).
async fn load_alerts(store: &Store, now: DateTime<Utc>) -> crate::Result<usize> {
    let mut tx = store.begin().await?;
    let l = tx.load_sla_due(now, 10, &[], now).await?;
    Ok(l.sla_alerts.values().map(|a| a.len()).sum())
}

#[tokio::test]
async fn unknown_sla_alert_levels_and_targets_name_their_column() {
    let (_dir, store, now) = store().await;
    raw(
        &store,
        "INSERT INTO sla_alerts (ticket_id, target, level, due, created_at) \
         VALUES (1, 'first_response', 'breach', $1, $1)",
        now,
    )
    .await;
    assert_eq!(load_alerts(&store, now).await.expect("known"), 1);
    raw(
        &store,
        "UPDATE sla_alerts SET level = 'panic' WHERE $1 IS NOT NULL",
        now,
    )
    .await;
    let (table, column, value) = unknown(load_alerts(&store, now).await);
    assert_eq!(
        (table, column, value.as_str()),
        ("sla_alerts", "level", "panic")
    );
    raw(
        &store,
        "UPDATE sla_alerts SET level = 'warning', target = 'lunch' WHERE $1 IS NOT NULL",
        now,
    )
    .await;
    let (table, column, value) = unknown(load_alerts(&store, now).await);
    assert_eq!(
        (table, column, value.as_str()),
        ("sla_alerts", "target", "lunch")
    );
}

#[tokio::test]
async fn unknown_ticket_statuses_priorities_and_directions_name_their_column() {
    let (_dir, store, now) = store().await;
    assert!(store.ticket(1).await.expect("known").is_some());
    raw(
        &store,
        "UPDATE tickets SET status = 'frozen' WHERE $1 IS NOT NULL",
        now,
    )
    .await;
    let (table, column, value) = unknown(store.ticket(1).await);
    assert_eq!(
        (table, column, value.as_str()),
        ("tickets", "status", "frozen")
    );
    raw(
        &store,
        "UPDATE tickets SET status = 'open', priority = 'asap' WHERE $1 IS NOT NULL",
        now,
    )
    .await;
    let (table, column, value) = unknown(store.list_tickets(&Default::default()).await);
    assert_eq!(
        (table, column, value.as_str()),
        ("tickets", "priority", "asap")
    );
    raw(
        &store,
        "UPDATE messages SET direction = 'sideways' WHERE $1 IS NOT NULL",
        now,
    )
    .await;
    let (table, column, value) = unknown(store.ticket_messages(1).await);
    assert_eq!(
        (table, column, value.as_str()),
        ("messages", "direction", "sideways")
    );
}
