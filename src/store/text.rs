//! How the store reads a text column into a core enum stored in one column:
//! as sqlx's `Decode`, so a value this version does not know reaches the
//! caller as `Error::UnknownValue` naming that column. (A field read with
//! `#[sqlx(try_from = "String")]` loses its parser's error: sqlx 0.9 boxes it
//! as "unprintable error".)

use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Type};

use crate::sla::alerts::Level;
use crate::tickets::{Direction, EventKind, OutboxStatus, ParticipantRole, Priority, Status};

macro_rules! stored_text {
    ($($t:ty),+) => {$(
        impl<DB: Database> Type<DB> for $t
        where
            String: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $t
        where
            String: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <String as Decode<'r, DB>>::decode(value)?;
                Ok(<$t>::try_from(text)?)
            }
        }
    )+};
}

stored_text!(
    OutboxStatus,
    EventKind,
    Level,
    ParticipantRole,
    Status,
    Priority,
    Direction
);
