//! `PgStore`: the domain's [`Storage`] trait on PostgreSQL — one SQL table per storage table
//! (`<schema>.mg_<name>`, `k bytea PRIMARY KEY, v bytea NOT NULL`; `bytea` orders bytewise, as
//! the codec's keys need), SERIALIZABLE write transactions whose serialization failures become
//! [`StorageError::Conflict`] (the domain re-runs the write), and a pool of connections.
//!
//! The SQL is the subset CockroachDB and YugabyteDB accept too: `CREATE TABLE IF NOT EXISTS`,
//! `INSERT … ON CONFLICT (k) DO UPDATE`, `DELETE … RETURNING`, range scans with `ORDER BY k
//! LIMIT n`, `BEGIN ISOLATION LEVEL SERIALIZABLE`.
//!
//! The client is the blocking `postgres` crate: a [`PgStore`] must be used from threads that
//! are not async runtime workers (the blocking pool, or plain threads); [`Storage::is_remote`]
//! tells front ends so.

use std::cell::RefCell;
use std::collections::HashSet;
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use modelgates::{Entry, ReadTxn, Storage, StorageError, StorageResult, TableName, WriteTxn};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Config, NoTls};
use r2d2::PooledConnection;
use r2d2_postgres::PostgresConnectionManager;

type Manager = PostgresConnectionManager<NoTls>;
type Conn = PooledConnection<Manager>;

/// Errors of opening a PostgreSQL store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The connection URL does not parse.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(String),
    /// The URL asks for something this build does not do.
    #[error("unsupported PostgreSQL URL: {0}")]
    Unsupported(String),
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    /// Creating the schema or a table failed.
    #[error("cannot create the ModelGates tables: {0}")]
    Schema(String),
}

/// How to open a [`PgStore`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The SQL schema holding the tables (created if missing; default `public`).
    pub schema: String,
    /// Connections in the pool at most (default 16).
    pub max_connections: u32,
    /// How long a caller waits for a free connection (default 10 s).
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            schema: "public".into(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The PostgreSQL store. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct PgStore {
    pool: r2d2::Pool<Manager>,
    schema: String,
    /// Storage tables known to exist (created by this process or found).
    tables: Arc<Mutex<HashSet<String>>>,
    label: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &self.label)
            .field("schema", &self.schema)
            .finish()
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 48
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

impl PgStore {
    /// Opens the database at `url` (`postgres://user@host:port/db`) with default options and
    /// creates the tables of the domain's registry.
    pub fn open(url: &str) -> Result<Self, PgError> {
        Self::open_with(url, PgOptions::default())
    }

    /// Opens the database at `url` with `options`.
    pub fn open_with(url: &str, options: PgOptions) -> Result<Self, PgError> {
        if !valid_ident(&options.schema) {
            return Err(PgError::Url(format!(
                "schema {:?}: use lowercase letters, digits and '_'",
                options.schema
            )));
        }
        if url.contains("sslmode=require")
            || url.contains("sslmode=verify-ca")
            || url.contains("sslmode=verify-full")
        {
            return Err(PgError::Unsupported(
                "this build connects without TLS (sslmode=disable or prefer); put a TLS \
                 proxy in front of a server that requires it"
                    .into(),
            ));
        }
        let config: Config = url.parse().map_err(|e| PgError::Url(format!("{e}")))?;
        let label = format!(
            "{}/{}",
            config
                .get_hosts()
                .first()
                .map(|h| match h {
                    postgres::config::Host::Tcp(h) => h.clone(),
                    #[cfg(unix)]
                    postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .unwrap_or_default(),
            config.get_dbname().unwrap_or("")
        );
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(options.max_connections)
            .connection_timeout(options.connect_timeout)
            .build(manager)
            .map_err(|e| PgError::Connect(e.to_string()))?;
        let store = Self {
            pool,
            schema: options.schema,
            tables: Arc::default(),
            label,
        };
        let mut conn = store
            .pool
            .get()
            .map_err(|e| PgError::Connect(e.to_string()))?;
        conn.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", store.schema))
            .map_err(|e| PgError::Schema(e.to_string()))?;
        for table in modelgates::storage_tables() {
            store
                .create_table(&mut conn, table.0)
                .map_err(|e| PgError::Schema(e.to_string()))?;
        }
        Ok(store)
    }

    /// `host/database`, for logs.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The SQL schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Drops the schema and everything in it (tests' throw-away schemas).
    pub fn drop_schema(&self) -> Result<(), PgError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| PgError::Connect(e.to_string()))?;
        conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .map_err(|e| PgError::Schema(e.to_string()))
    }

    /// The qualified SQL name of storage table `table`.
    fn sql_name(&self, table: &str) -> String {
        // Registry names are snake_case; anything else is hex-encoded to stay an identifier.
        let name = if valid_ident(table) {
            table.to_owned()
        } else {
            table.bytes().map(|b| format!("{b:02x}")).collect()
        };
        format!("{}.mg_{name}", self.schema)
    }

    fn create_table(&self, conn: &mut Conn, table: &str) -> Result<(), postgres::Error> {
        let name = self.sql_name(table);
        conn.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {name} (k BYTEA PRIMARY KEY, v BYTEA NOT NULL)"
        ))?;
        self.tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(table.to_owned());
        Ok(())
    }

    /// Makes sure storage table `table` exists, creating it on a connection of its own (a
    /// table outside the registry, as the conformance suite uses): a failing statement would
    /// abort the caller's transaction.
    fn ensure(&self, table: TableName) -> StorageResult<String> {
        let known = self
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(table.0);
        if !known {
            let mut conn = self.pool.get().map_err(StorageError::backend)?;
            self.create_table(&mut conn, table.0).map_err(sql_error)?;
        }
        Ok(self.sql_name(table.0))
    }

    fn begin(&self, sql: &str) -> StorageResult<PgTxn<'_>> {
        let mut conn = self.pool.get().map_err(StorageError::backend)?;
        conn.batch_execute(sql).map_err(sql_error)?;
        Ok(PgTxn {
            store: self,
            conn: RefCell::new(conn),
            open: true,
        })
    }
}

/// A PostgreSQL error as a storage error: serialization failures and deadlocks are conflicts
/// (the whole write may be re-run); anything else is the backend's error.
fn sql_error(e: postgres::Error) -> StorageError {
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            StorageError::Conflict
        }
        _ => StorageError::backend(e),
    }
}

/// One transaction on one pooled connection (`BEGIN` … `COMMIT`/`ROLLBACK` sent as
/// statements, so the transaction can own its connection). Dropped open, it rolls back.
struct PgTxn<'s> {
    store: &'s PgStore,
    conn: RefCell<Conn>,
    open: bool,
}

impl PgTxn<'_> {
    fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StorageResult<Vec<postgres::Row>> {
        self.conn.borrow_mut().query(sql, params).map_err(sql_error)
    }

    fn finish(&mut self, sql: &str) -> StorageResult<()> {
        self.open = false;
        self.conn
            .get_mut()
            .batch_execute(sql)
            .map_err(|e| match e.code() {
                Some(_) => sql_error(e),
                // The connection went away while COMMIT was in flight: it may or may not have
                // committed. Never retried as a conflict.
                None => StorageError::backend(format!(
                    "the outcome of {sql} is unknown (the connection failed): {e}"
                )),
            })
    }
}

impl Drop for PgTxn<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.get_mut().batch_execute("ROLLBACK");
        }
    }
}

impl ReadTxn for PgTxn<'_> {
    fn get(&self, table: TableName, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        let name = self.store.ensure(table)?;
        let rows = self.query(&format!("SELECT v FROM {name} WHERE k = $1"), &[&key])?;
        Ok(rows.first().map(|r| r.get::<_, Vec<u8>>(0)))
    }

    fn range(
        &self,
        table: TableName,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> StorageResult<Vec<Entry>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let name = self.store.ensure(table)?;
        let mut sql = format!("SELECT k, v FROM {name}");
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        let mut clauses = Vec::new();
        let (lo, hi);
        match start {
            Bound::Included(s) => {
                lo = s;
                params.push(&lo);
                clauses.push(format!("k >= ${}", params.len()));
            }
            Bound::Excluded(s) => {
                lo = s;
                params.push(&lo);
                clauses.push(format!("k > ${}", params.len()));
            }
            Bound::Unbounded => {}
        }
        match end {
            Bound::Included(e) => {
                hi = e;
                params.push(&hi);
                clauses.push(format!("k <= ${}", params.len()));
            }
            Bound::Excluded(e) => {
                hi = e;
                params.push(&hi);
                clauses.push(format!("k < ${}", params.len()));
            }
            Bound::Unbounded => {}
        }
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        sql.push_str(&format!(" ORDER BY k LIMIT {limit}"));
        let rows = self.query(&sql, &params)?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

impl WriteTxn for PgTxn<'_> {
    fn put(&mut self, table: TableName, key: &[u8], value: &[u8]) -> StorageResult<()> {
        let name = self.store.ensure(table)?;
        self.query(
            &format!(
                "INSERT INTO {name} (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = \
                 excluded.v"
            ),
            &[&key, &value],
        )?;
        Ok(())
    }

    fn delete(&mut self, table: TableName, key: &[u8]) -> StorageResult<bool> {
        let name = self.store.ensure(table)?;
        let rows = self.query(
            &format!("DELETE FROM {name} WHERE k = $1 RETURNING k"),
            &[&key],
        )?;
        Ok(!rows.is_empty())
    }

    fn commit(mut self: Box<Self>) -> StorageResult<()> {
        self.finish("COMMIT")
    }

    fn abort(mut self: Box<Self>) -> StorageResult<()> {
        self.finish("ROLLBACK")
    }
}

impl Storage for PgStore {
    fn begin_read(&self) -> StorageResult<Box<dyn ReadTxn + '_>> {
        // A consistent snapshot that never fails with a serialization error, taken now (the
        // first statement takes it, so `SELECT 1` rides along in the same round trip).
        Ok(Box::new(self.begin(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1",
        )?))
    }

    fn begin_write(&self) -> StorageResult<Box<dyn WriteTxn + '_>> {
        Ok(Box::new(
            self.begin("BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT 1")?,
        ))
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn is_remote(&self) -> bool {
        true
    }
}
