//! What the batch and scheduler queries share: bind-parameter syntax per
//! backend and `IN (…)` lookups in chunks.

// The statements here are built per batch, with as many rows as the batch
// has. Only those of a few rows are kept in the prepared-statement cache
// (`cached`): every distinct row count is a statement of its own, and a big
// one would pin a large compiled statement.

use std::collections::BTreeSet;

use super::tx::Tx;

/// Rows per multi-row INSERT: well below SQLite's and PostgreSQL's parameter limits.
pub(super) const ROWS_PER_STATEMENT: usize = 400;
/// Message rows carry the raw bytes; SQLite copies bound blobs, so fewer rows
/// per statement keep the transient copies small.
pub(super) const MESSAGES_PER_STATEMENT: usize = 32;
/// Statements of at most this many rows (or keys) stay prepared: a mail
/// handed over by `ingest -` is a batch of one, and parsing its dozen
/// statements anew cost 6 % of serve's CPU.
const CACHED_ROWS: usize = 4;

/// Whether a statement of `rows` rows is kept prepared (`CACHED_ROWS`).
pub(super) fn cached(rows: usize) -> bool {
    rows <= CACHED_ROWS
}

/// IDs per `IN (…)` lookup.
pub(super) const KEYS_PER_QUERY: usize = 500;

/// Bind-parameter syntax. SQLite gets anonymous `?`: sqlx resolves every named
/// parameter (`$7`) with sqlite3_bind_parameter_name, a linear scan, which made
/// multi-row statements quadratic (a third of the ingest time went there).
#[derive(Clone, Copy)]
pub(super) enum Params {
    Dollar,
    Question,
}

impl Params {
    pub(super) fn of(tx: &Tx) -> Params {
        match tx {
            Tx::Sqlite(..) => Params::Question,
            Tx::Postgres(_) => Params::Dollar,
        }
    }

    /// Placeholders for parameters `start..start + n` (1-based).
    pub(super) fn list(self, start: usize, n: usize) -> String {
        (start..start + n)
            .map(|i| match self {
                Params::Dollar => format!("${i}"),
                Params::Question => "?".to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `($1,$2,$3),($4,$5,$6)…` for `rows` rows of `cols` columns.
    pub(super) fn rows(self, rows: usize, cols: usize) -> String {
        (0..rows)
            .map(|r| format!("({})", self.list(r * cols + 1, cols)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Runs `SELECT … WHERE col IN (<keys>)` in chunks; `sql` gets the placeholder
/// list, `before` binds that come first (their count is `skip`).
macro_rules! select_in {
    ($tx:expr, $row:ty, $keys:expr, |$list:ident| $sql:expr $(, pre = [$($pre:expr),*])?) => {{
        let params = Params::of($tx);
        let skip: usize = 0 $($(+ { let _ = &$pre; 1 })*)?;
        let mut out: Vec<$row> = Vec::new();
        for chunk in $keys.chunks(KEYS_PER_QUERY) {
            let $list = params.list(skip + 1, chunk.len());
            let sql: String = $sql;
            let rows: Vec<$row> = on_tx!($tx, c => {
                let mut q = sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe(sql))
                    .persistent($crate::store::sql::cached(chunk.len()));
                $($(q = q.bind($pre);)*)?
                for k in chunk {
                    q = q.bind(k.clone());
                }
                q.fetch_all(&mut *c).await?
            });
            out.extend(rows);
        }
        out
    }};
}

pub(super) fn sorted<T: Ord + Clone>(v: impl IntoIterator<Item = T>) -> Vec<T> {
    let set: BTreeSet<T> = v.into_iter().collect();
    set.into_iter().collect()
}

pub(super) use select_in;
