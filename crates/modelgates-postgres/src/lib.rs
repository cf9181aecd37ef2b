//! `PgStore`: the domain's [`Storage`] trait on PostgreSQL — one SQL table per storage table
//! (`<schema>.mg_<name>`, `k bytea PRIMARY KEY, v bytea NOT NULL`; `bytea` orders bytewise, as
//! the codec's keys need), SERIALIZABLE write transactions whose serialization failures become
//! [`StorageError::Conflict`] (the domain re-runs the write), and a pool of connections.
//!
//! The SQL is the subset CockroachDB and YugabyteDB accept too: `CREATE TABLE IF NOT EXISTS`,
//! `INSERT … ON CONFLICT (k) DO UPDATE`, `DELETE … RETURNING`, range scans with `ORDER BY k
//! LIMIT n`, `BEGIN ISOLATION LEVEL SERIALIZABLE`.
//!
//! The trait is synchronous and the client (`tokio-postgres`) asynchronous: the store owns a
//! small runtime of its own that drives the connections, and each call hands its round trip to
//! that runtime and waits for the answer — inside `tokio::task::block_in_place` when the caller
//! is a worker of a multi-threaded runtime (a front end's read), so the caller's runtime never
//! stalls and no front end needs to know. [`Storage::is_remote`] says so anyway.

use std::collections::HashSet;
use std::future::Future;
use std::ops::Bound;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use modelgates::{Entry, ReadTxn, Storage, StorageError, StorageResult, TableName, WriteTxn};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row};

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

/// What every clone of a store shares: the runtime driving the connections and the pool.
struct Shared {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    config: Config,
    /// Idle connections, and how many are open in all (idle or lent).
    pool: Mutex<Pool>,
    freed: Condvar,
    max_connections: u32,
    connect_timeout: Duration,
    schema: String,
    /// Storage tables known to exist (created by this process or found).
    tables: Mutex<HashSet<String>>,
    label: String,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Arc<Client>>,
    open: u32,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Allowed anywhere, also on another runtime's worker (a plain drop is not).
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The PostgreSQL store. Cheap to clone (the runtime and the pool are shared).
#[derive(Clone)]
pub struct PgStore {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &self.shared.label)
            .field("schema", &self.shared.schema)
            .finish()
    }
}

/// Waits for `f` (a blocking receive): inside `block_in_place` on a multi-threaded runtime's
/// worker, so the worker's other tasks move to another thread; directly anywhere else.
fn wait<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` without its `schema=` parameter, and that parameter's value.
fn split_schema(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut schema = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("schema=") {
            Some(v) => {
                schema = Some(v.to_owned());
                false
            }
            None => !kv.is_empty(),
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, schema)
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 48
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

/// A PostgreSQL error as a storage error: serialization failures and deadlocks are conflicts
/// (the whole write may be re-run); anything else is the backend's error.
fn sql_error(e: tokio_postgres::Error) -> StorageError {
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

impl PgStore {
    /// Opens the database at `url` (`postgres://user@host:port/db`) with default options and
    /// creates the tables of the domain's registry. A `schema=NAME` parameter of the URL (not a
    /// libpq one: ModelGates takes it out) puts the tables in that schema.
    pub fn open(url: &str) -> Result<Self, PgError> {
        let (url, schema) = split_schema(url);
        let mut options = PgOptions::default();
        if let Some(schema) = schema {
            options.schema = schema;
        }
        Self::open_with(&url, options)
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
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    #[cfg(unix)]
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .unwrap_or_default(),
            config.get_dbname().unwrap_or("")
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("modelgates-postgres")
            .enable_all()
            .build()
            .map_err(|e| PgError::Connect(format!("cannot start the client runtime: {e}")))?;
        let store = Self {
            shared: Arc::new(Shared {
                handle: runtime.handle().clone(),
                runtime: Some(runtime),
                config,
                pool: Mutex::default(),
                freed: Condvar::new(),
                max_connections: options.max_connections.max(1),
                connect_timeout: options.connect_timeout,
                schema: options.schema,
                tables: Mutex::default(),
                label,
            }),
        };
        store.create_tables()?;
        Ok(store)
    }

    /// Creates the schema and the registry's tables (`IF NOT EXISTS`).
    fn create_tables(&self) -> Result<(), PgError> {
        let conn = self
            .checkout()
            .map_err(|e| PgError::Connect(e.to_string()))?;
        let schema = &self.shared.schema;
        self.batch(&conn, format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .map_err(|e| PgError::Schema(e.to_string()))?;
        for table in modelgates::storage_tables() {
            self.create_table(&conn, table.0)
                .map_err(|e| PgError::Schema(e.to_string()))?;
        }
        Ok(())
    }

    /// `host/database`, for logs (never the URL, which may hold a password).
    pub fn label(&self) -> &str {
        &self.shared.label
    }

    /// The SQL schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.shared.schema
    }

    /// Drops the schema and everything in it (tests' throw-away schemas).
    pub fn drop_schema(&self) -> Result<(), PgError> {
        let conn = self
            .checkout()
            .map_err(|e| PgError::Connect(e.to_string()))?;
        self.batch(
            &conn,
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.shared.schema),
        )
        .map_err(|e| PgError::Schema(e.to_string()))
    }

    /// Runs `fut` on the store's runtime and waits for its output.
    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> StorageResult<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.shared.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        wait(|| rx.recv())
            .map_err(|_| StorageError::backend("the PostgreSQL client runtime stopped"))
    }

    fn lock(&self) -> MutexGuard<'_, Pool> {
        self.shared.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lends a connection: an idle one, a new one below the cap, or the first one freed within
    /// the connect timeout.
    fn checkout(&self) -> StorageResult<Lease<'_>> {
        let deadline = Instant::now() + self.shared.connect_timeout;
        let mut pool = self.lock();
        loop {
            while let Some(client) = pool.idle.pop() {
                if client.is_closed() {
                    pool.open -= 1;
                } else {
                    return Ok(Lease {
                        store: self,
                        client: Some(client),
                    });
                }
            }
            if pool.open < self.shared.max_connections {
                pool.open += 1;
                drop(pool);
                let config = self.shared.config.clone();
                let connected = self.run(async move {
                    let (client, connection) = config.connect(NoTls).await?;
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::warn!("PostgreSQL connection closed: {e}");
                        }
                    });
                    Ok::<_, tokio_postgres::Error>(client)
                });
                let connected = match connected {
                    Ok(Ok(client)) => Ok(client),
                    Ok(Err(e)) => Err(StorageError::backend(format!(
                        "cannot connect to PostgreSQL at {}: {e}",
                        self.shared.label
                    ))),
                    Err(e) => Err(e),
                };
                return match connected {
                    Ok(client) => Ok(Lease {
                        store: self,
                        client: Some(Arc::new(client)),
                    }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.shared.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StorageError::backend(format!(
                    "no free PostgreSQL connection within {} s ({} in use)",
                    self.shared.connect_timeout.as_secs(),
                    pool.open
                )));
            }
            pool = self
                .shared
                .freed
                .wait_timeout(pool, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn batch(&self, conn: &Lease<'_>, sql: String) -> StorageResult<()> {
        let client = conn.client();
        self.run(async move { client.batch_execute(&sql).await })?
            .map_err(sql_error)
    }

    fn query(
        &self,
        conn: &Lease<'_>,
        sql: String,
        params: Vec<Vec<u8>>,
    ) -> StorageResult<Vec<Row>> {
        let client = conn.client();
        self.run(async move {
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            client.query(&sql, &refs).await
        })?
        .map_err(sql_error)
    }

    /// The qualified SQL name of storage table `table`.
    fn sql_name(&self, table: &str) -> String {
        // Registry names are snake_case; anything else is hex-encoded to stay an identifier.
        let name = if valid_ident(table) {
            table.to_owned()
        } else {
            table.bytes().map(|b| format!("{b:02x}")).collect()
        };
        format!("{}.mg_{name}", self.shared.schema)
    }

    fn create_table(&self, conn: &Lease<'_>, table: &str) -> StorageResult<()> {
        let name = self.sql_name(table);
        self.batch(
            conn,
            format!("CREATE TABLE IF NOT EXISTS {name} (k BYTEA PRIMARY KEY, v BYTEA NOT NULL)"),
        )?;
        self.shared
            .tables
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
            .shared
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(table.0);
        if !known {
            let conn = self.checkout()?;
            self.create_table(&conn, table.0)?;
        }
        Ok(self.sql_name(table.0))
    }

    fn begin(&self, sql: &str) -> StorageResult<PgTxn<'_>> {
        let conn = self.checkout()?;
        self.batch(&conn, sql.to_owned())?;
        Ok(PgTxn {
            store: self,
            conn,
            open: true,
        })
    }
}

/// A lent connection, back to the pool when dropped (or closed for good if it broke).
struct Lease<'s> {
    store: &'s PgStore,
    client: Option<Arc<Client>>,
}

impl Lease<'_> {
    fn client(&self) -> Arc<Client> {
        self.client
            .clone()
            .expect("a lease holds its client until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let mut pool = self.store.lock();
            if client.is_closed() {
                pool.open -= 1;
            } else {
                pool.idle.push(client);
            }
            drop(pool);
            self.store.shared.freed.notify_one();
        }
    }
}

/// One transaction on one lent connection (`BEGIN` … `COMMIT`/`ROLLBACK` sent as statements).
/// Dropped open, it rolls back.
struct PgTxn<'s> {
    store: &'s PgStore,
    conn: Lease<'s>,
    open: bool,
}

impl PgTxn<'_> {
    fn query(&self, sql: String, params: Vec<Vec<u8>>) -> StorageResult<Vec<Row>> {
        self.store.query(&self.conn, sql, params)
    }

    fn finish(&mut self, sql: &str) -> StorageResult<()> {
        self.open = false;
        let client = self.conn.client();
        let statement = sql.to_owned();
        self.store
            .run(async move { client.batch_execute(&statement).await })?
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
            let _ = self.store.batch(&self.conn, "ROLLBACK".into());
        }
    }
}

impl ReadTxn for PgTxn<'_> {
    fn get(&self, table: TableName, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        let name = self.store.ensure(table)?;
        let rows = self.query(
            format!("SELECT v FROM {name} WHERE k = $1"),
            vec![key.to_vec()],
        )?;
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
        let mut params = Vec::new();
        let mut clauses = Vec::new();
        for (bound, inclusive, exclusive) in [(start, ">=", ">"), (end, "<=", "<")] {
            let (op, key) = match bound {
                Bound::Included(k) => (inclusive, k),
                Bound::Excluded(k) => (exclusive, k),
                Bound::Unbounded => continue,
            };
            params.push(key.to_vec());
            clauses.push(format!("k {op} ${}", params.len()));
        }
        let mut sql = format!("SELECT k, v FROM {name}");
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        sql.push_str(&format!(" ORDER BY k LIMIT {limit}"));
        let rows = self.query(sql, params)?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

impl WriteTxn for PgTxn<'_> {
    fn put(&mut self, table: TableName, key: &[u8], value: &[u8]) -> StorageResult<()> {
        let name = self.store.ensure(table)?;
        self.query(
            format!(
                "INSERT INTO {name} (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = \
                 excluded.v"
            ),
            vec![key.to_vec(), value.to_vec()],
        )?;
        Ok(())
    }

    fn delete(&mut self, table: TableName, key: &[u8]) -> StorageResult<bool> {
        let name = self.store.ensure(table)?;
        let rows = self.query(
            format!("DELETE FROM {name} WHERE k = $1 RETURNING k"),
            vec![key.to_vec()],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_parameter_is_taken_out_of_the_url() {
        assert_eq!(
            split_schema("postgres://u@h/db?schema=mg_a&sslmode=disable"),
            (
                "postgres://u@h/db?sslmode=disable".to_owned(),
                Some("mg_a".to_owned())
            )
        );
        assert_eq!(
            split_schema("postgres://u@h/db?schema=mg_a"),
            ("postgres://u@h/db".to_owned(), Some("mg_a".to_owned()))
        );
        assert_eq!(
            split_schema("postgres://u@h/db"),
            ("postgres://u@h/db".to_owned(), None)
        );
    }
}
