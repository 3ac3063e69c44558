//! Whether the customer's side answering the satisfaction question rated the
//! ticket: only the ticket's customer or someone on its participant list
//! before this mail (a stranger the question was forwarded to is not), only
//! an answer to the question itself (not mail that also refers to internal
//! mail), and only a score on the first line (`tickets::satisfaction`).
//! Anything else is handled as the mail it otherwise is.

use super::super::thread::ThreadMatch;
use super::super::unit::UnitOfWork;
use super::Decide;
use crate::mail::parse::ParsedMail;
use crate::tickets::Ticket;
use crate::tickets::satisfaction::{Rating, parse_rating};

impl Decide {
    /// The rating in `mail`, which answers the satisfaction question of
    /// `ticket`; or why it is none (for the ticket's events).
    pub(super) fn rating_in(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
        ticket: &Ticket,
        thread: &ThreadMatch,
    ) -> Result<Rating, String> {
        let from = mail.from.email.as_str();
        let name = self.threading.ticket_ref(ticket.id);
        if thread.answers_internal {
            return Err(format!(
                "{from} answered the satisfaction question of {name} in mail that also refers to internal mail: not taken as a rating"
            ));
        }
        if ticket.customer != from && !u.is_participant(ticket.id, from) {
            return Err(format!(
                "{from} answered the satisfaction question of {name} but is neither its customer nor a participant: not taken as a rating (only the customer's side rates)"
            ));
        }
        parse_rating(&mail.reply().text).ok_or_else(|| {
            format!(
                "{from} answered the satisfaction question of {name} without a score from 1 to 5 on the first line: handled as a follow-up"
            )
        })
    }
}
