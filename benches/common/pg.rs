//! A scratch PostgreSQL database for a benchmark (included with `#[path]`):
//! created with a unique name on the server of `MAILROOM_BENCH_PG_URL`
//! (default postgres://postgres@127.0.0.1:5432/postgres, the admin URL) and
//! dropped `WITH (FORCE)` when the guard drops, also after a failure.

// Each bench uses a different subset of these items.
#![allow(dead_code)]

use sqlx::Connection as _;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn admin_url() -> String {
    std::env::var("MAILROOM_BENCH_PG_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into())
}

/// `url` without its password (for messages).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{host}")
        }
        _ => url.to_string(),
    }
}

/// `url` with TLS switched off, unless it says something about TLS itself:
/// sqlx 0.9.0 negotiates TLS by default and, without TCP_NODELAY, stalls on
/// delayed ACKs (README, "PostgreSQL over TLS is slow"). For loopback runs.
pub fn without_tls(url: &str) -> Option<String> {
    if url.contains("sslmode=") {
        return None;
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}sslmode=disable"))
}

/// `admin` with its database replaced by `name` (query string kept).
pub fn with_database(admin: &str, name: &str) -> Result<String, String> {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    match base[host_start..].rfind('/') {
        Some(i) => Ok(format!("{}/{name}{query}", &base[..host_start + i])),
        None => Ok(format!("{base}/{name}{query}")),
    }
}

/// The database exists while this lives (unless `keep` was called).
pub struct ScratchDb {
    admin: String,
    pub name: String,
    pub url: String,
    keep: bool,
}

impl ScratchDb {
    /// Creates `<prefix>_<random>` (`prefix`: lowercase letters and `_`).
    pub async fn create(prefix: &str) -> Result<ScratchDb, String> {
        let admin = admin_url();
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut c = sqlx::PgConnection::connect(&admin).await.map_err(|e| {
            format!(
                "PostgreSQL at {} (set MAILROOM_BENCH_PG_URL): {e}",
                redact(&admin)
            )
        })?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await
            .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
        c.close().await.ok();
        let url = with_database(&admin, &name)?;
        Ok(ScratchDb {
            admin,
            name,
            url,
            keep: false,
        })
    }

    /// Leaves the database in place at the end.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if self.keep {
            eprintln!(
                "kept PostgreSQL database {} (drop it with: psql {} -c 'DROP DATABASE {} WITH (FORCE)')",
                self.name,
                redact(&self.admin),
                self.name
            );
            return;
        }
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Its own thread and runtime: drop may run inside another runtime.
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("tokio runtime: {e}"))?;
            rt.block_on(async {
                let mut c = sqlx::PgConnection::connect(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut c)
                .await
                .map_err(|e| e.to_string())?;
                c.close().await.ok();
                Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("cannot drop PostgreSQL database {}: {e}", self.name),
            Err(_) => eprintln!("cannot drop PostgreSQL database {}: panicked", self.name),
        }
    }
}
