//! What a decision carries out: the plans of a new ticket, a follow-up of
//! the customer's side, an internal note and a rating.

use super::ThreadMatch;
use crate::mail::Mailbox;
use crate::rules::Routing;
use crate::rules::assign::Assignment;
use crate::tickets::satisfaction::Rating;
use crate::tickets::{Role, Status, Ticket};

use super::Notes;

pub(crate) struct NewTicketPlan {
    pub routing: Routing,
    /// Bulk or list mail: tagged `bulk`, never acknowledged.
    pub bulk: Option<String>,
    pub assignment: Option<Assignment>,
    pub owner: Option<String>,
    pub customer: Mailbox,
    pub thread: ThreadMatch,
    pub notes: Notes,
    /// The older ticket it continues (a mail after the reopen window).
    pub linked_to: Option<i64>,
}

pub(crate) struct FollowUpPlan {
    pub ticket: Ticket,
    pub thread: ThreadMatch,
    /// `Customer` or `Participant`.
    pub role: Role,
    /// Why the sender has that role.
    pub why: String,
    /// The status the follow-up moves the ticket to, if any.
    pub reopen: Option<Status>,
    pub notes: Notes,
}

pub(crate) struct NotePlan {
    pub ticket: Ticket,
    pub thread: ThreadMatch,
    /// `Colleague` or `ThirdParty`.
    pub role: Role,
    /// Why the mail has this role (and, for a roster sender, why it does not
    /// act as an agent).
    pub why: String,
    /// Told to the sender, a roster agent, when their mail answers mail sent
    /// to them but lacks the rest of the proof.
    pub tell_agent: Option<String>,
}

pub(crate) struct RatingPlan {
    pub ticket: Ticket,
    pub thread: ThreadMatch,
    /// `Customer` or `Participant`, known on the ticket before this mail.
    pub role: Role,
    /// Why the sender has that role.
    pub why: String,
    pub rating: Rating,
    pub notes: Notes,
}
