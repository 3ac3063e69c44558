//! The events a stored message leaves on its ticket (its audit trail): kinds
//! from `tickets::EventKind`, collected while a decision is applied and
//! written with the batch.

use crate::store::NewEvent;
use crate::tickets::EventKind;

/// Observations made before the ticket is known; they become its events.
pub(crate) type Notes = Vec<(EventKind, String)>;

pub(super) fn event(ticket: i64, row: i64, kind: EventKind, detail: String) -> NewEvent {
    NewEvent {
        ticket_id: Some(ticket),
        message_row: Some(row),
        kind,
        detail,
    }
}

/// Events on one ticket, for one stored message.
pub(crate) struct Events {
    pub ticket: i64,
    pub row: i64,
    pub list: Vec<NewEvent>,
}

impl Events {
    pub(crate) fn new(ticket: i64, row: i64, notes: Notes) -> Events {
        let mut e = Events {
            ticket,
            row,
            list: Vec::new(),
        };
        for (kind, detail) in notes {
            e.push(kind, detail);
        }
        e
    }

    pub fn push(&mut self, kind: EventKind, detail: String) {
        self.list.push(event(self.ticket, self.row, kind, detail));
    }
}
