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
//!
//! Connections are encrypted as libpq's `sslmode` says (default `prefer`); see the `tls` module for the
//! modes and the certificate checks.

#![warn(missing_docs)]

mod tls;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::ops::Bound;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use modelgates::{Entry, ReadTxn, Storage, StorageError, StorageResult, TableName, Wake, WriteTxn};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Row, Statement};

/// Errors of opening a PostgreSQL store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The connection URL does not parse.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(String),
    /// The TLS set-up (`sslmode`, `sslrootcert`) cannot be honoured.
    #[error("PostgreSQL TLS: {0}")]
    Tls(String),
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
    /// Whether commits that append to the change log NOTIFY other instances, and this store
    /// LISTENs for theirs (default true; only on PostgreSQL itself). Off, instances learn of
    /// each other's changes by polling alone.
    pub notify: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            schema: "public".into(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(10),
            notify: true,
        }
    }
}

/// What every clone of a store shares: the runtime driving the connections and the pool.
struct Shared {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    config: Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// Idle connections, and how many are open in all (idle or lent).
    pool: Mutex<Pool>,
    freed: Condvar,
    max_connections: u32,
    connect_timeout: Duration,
    schema: String,
    /// Storage tables known to exist (created by this process or found), with their SQL.
    tables: Mutex<HashMap<String, Arc<TableSql>>>,
    label: String,
    /// The change-log wake-up channel (`mg_changes_<schema>`) and this store's name on it
    /// (its own notifications are not wake-ups for it); `None` on an engine without
    /// LISTEN/NOTIFY (CockroachDB, YugabyteDB), where followers only poll.
    notify: std::sync::OnceLock<Option<Notify>>,
}

struct Notify {
    channel: String,
    origin: String,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Arc<Conn>>,
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

/// `url` without the query parameters named in `names` (ModelGates' own, or ones the client
/// library does not parse), and their values in the order found.
fn take_params(url: &str, names: &[&str]) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), Vec::new());
    };
    let mut taken = Vec::new();
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if names.contains(&k) {
                taken.push((k.to_owned(), v.to_owned()));
                false
            } else {
                !kv.is_empty()
            }
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, taken)
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 48
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

/// `e` and its causes, `: `-separated (tokio-postgres' messages leave the cause out: "error
/// performing TLS handshake" says nothing of the certificate).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
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
        // tokio-postgres' own message is "db error"; the server's is in the cause.
        _ => StorageError::backend(with_causes(&e)),
    }
}

impl PgStore {
    /// Opens the database at `url` (`postgres://user@host:port/db`) with default options and
    /// creates the tables of the domain's registry. Two parameters of the URL are ModelGates'
    /// own (taken out before the URL reaches the client): `schema=NAME` puts the tables in that
    /// schema; `notify=off` turns LISTEN/NOTIFY wake-ups off (behind a pooler in transaction
    /// mode, which cannot LISTEN).
    ///
    /// ```no_run
    /// use modelgates::ModelGates;
    /// use modelgates_postgres::PgStore;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // Several instances may open the same database; each follows the others' changes.
    /// let store = PgStore::open("postgres://modelgates@db.internal:5432/modelgates?schema=gates&sslmode=require")?;
    /// let gates = ModelGates::open(store)?;
    /// # drop(gates);
    /// # Ok(()) }
    /// ```
    pub fn open(url: &str) -> Result<Self, PgError> {
        let (url, own) = take_params(url, &["schema", "notify"]);
        let mut options = PgOptions::default();
        for (name, value) in own {
            match (name.as_str(), value.as_str()) {
                ("schema", _) => options.schema = value,
                (_, "on" | "true" | "1") => options.notify = true,
                (_, "off" | "false" | "0") => options.notify = false,
                (_, other) => {
                    return Err(PgError::Url(format!("notify={other:?}: use on or off")));
                }
            }
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
        let (url, tls_params) = take_params(url, &["sslmode", "sslrootcert"]);
        let mut explicit = None;
        let mut root_cert = None;
        for (name, value) in tls_params {
            match name.as_str() {
                "sslmode" => explicit = Some(tls::Mode::parse(&value)?),
                _ => root_cert = Some(value),
            }
        }
        let mode = match (explicit, root_cert.as_deref()) {
            // libpq 16: the system's roots only with full verification, never a weaker mode
            // (which could fall back to plain text).
            (None | Some(tls::Mode::VerifyFull), Some("system")) => tls::Mode::VerifyFull,
            (Some(_), Some("system")) => {
                return Err(PgError::Tls(
                    "sslrootcert=system needs sslmode=verify-full (or no sslmode)".into(),
                ));
            }
            (explicit, _) => explicit.unwrap_or(tls::Mode::Prefer),
        };
        let mut config: Config = url.parse().map_err(|e| PgError::Url(format!("{e}")))?;
        config.ssl_mode(mode.negotiation());
        let tls = tls::connector(mode, root_cert.as_deref())?;
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
                tls,
                pool: Mutex::default(),
                freed: Condvar::new(),
                max_connections: options.max_connections.max(1),
                connect_timeout: options.connect_timeout,
                schema: options.schema,
                tables: Mutex::default(),
                label,
                notify: std::sync::OnceLock::new(),
            }),
        };
        store.create_tables()?;
        if options.notify {
            store.detect_notify()?;
        }
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

    /// Whether the server is PostgreSQL itself (LISTEN/NOTIFY) rather than an engine speaking
    /// its protocol without them.
    fn detect_notify(&self) -> Result<(), PgError> {
        static STORES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let conn = self
            .checkout()
            .map_err(|e| PgError::Connect(e.to_string()))?;
        let rows = self
            .query(&conn, "SELECT version()".into(), Vec::new())
            .map_err(|e| PgError::Connect(e.to_string()))?;
        let version: String = rows.first().map(|r| r.get(0)).unwrap_or_default();
        let notify =
            (version.starts_with("PostgreSQL") && !version.contains("-YB-")).then(|| Notify {
                channel: format!("mg_changes_{}", self.shared.schema),
                origin: format!(
                    "{}-{}",
                    std::process::id(),
                    STORES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ),
            });
        let _ = self.shared.notify.set(notify);
        Ok(())
    }

    fn notify(&self) -> Option<&Notify> {
        self.shared.notify.get().and_then(Option::as_ref)
    }

    /// `host/database`, for logs (never the URL, which may hold a password).
    pub fn label(&self) -> &str {
        &self.shared.label
    }

    /// The TLS version of a connection of the pool (`TLSv1.3`), or `None` if connections are
    /// not encrypted (from the server's `pg_stat_ssl`).
    pub fn encryption(&self) -> Result<Option<String>, PgError> {
        let conn = self
            .checkout()
            .map_err(|e| PgError::Connect(e.to_string()))?;
        let rows = self
            .query(
                &conn,
                "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl".into(),
                Vec::new(),
            )
            .map_err(|e| PgError::Connect(e.to_string()))?;
        Ok(rows.first().map(|r| r.get::<_, String>(0)))
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
                let tls = self.shared.tls.clone();
                let connected = self.run(async move {
                    let (client, connection) = config.connect(tls).await?;
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::warn!("PostgreSQL connection closed: {e}");
                        }
                    });
                    Ok::<_, tokio_postgres::Error>(client)
                });
                let connected = match connected {
                    Ok(Ok(client)) => Ok(Conn {
                        client,
                        prepared: Mutex::default(),
                    }),
                    Ok(Err(e)) => Err(StorageError::backend(format!(
                        "cannot connect to PostgreSQL at {}: {}",
                        self.shared.label,
                        with_causes(&e)
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
        let conn = conn.client();
        wait(|| block_on(conn.client.batch_execute(&sql))).map_err(sql_error)
    }

    fn query(
        &self,
        conn: &Lease<'_>,
        sql: String,
        params: Vec<Vec<u8>>,
    ) -> StorageResult<Vec<Row>> {
        let params = params.into_iter().map(Param::Bytes).collect();
        let mut results = pipeline(&conn.client(), vec![Stmt::typed(sql, params)]);
        results
            .pop()
            .expect("one answer per statement")
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

    fn create_table(&self, conn: &Lease<'_>, table: &str) -> StorageResult<Arc<TableSql>> {
        let name = self.sql_name(table);
        self.batch(
            conn,
            format!("CREATE TABLE IF NOT EXISTS {name} (k BYTEA PRIMARY KEY, v BYTEA NOT NULL)"),
        )?;
        let sql = Arc::new(TableSql::new(&name));
        self.shared
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(table.to_owned(), sql.clone());
        Ok(sql)
    }

    /// The statements of storage table `table`, creating the table first on a connection of
    /// its own if this process has not seen it (a table outside the registry, as the
    /// conformance suite uses): a failing statement would abort the caller's transaction.
    fn ensure(&self, table: TableName) -> StorageResult<Arc<TableSql>> {
        let known = self
            .shared
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(table.0)
            .cloned();
        match known {
            Some(sql) => Ok(sql),
            None => {
                let conn = self.checkout()?;
                self.create_table(&conn, table.0)
            }
        }
    }

    fn begin(&self, begin: &'static str) -> StorageResult<PgTxn<'_>> {
        Ok(PgTxn {
            store: self,
            conn: self.checkout()?,
            state: RefCell::new(TxnState {
                begin: Some(begin),
                dirty: BTreeMap::new(),
                notify: false,
                failed: false,
                known: HashMap::new(),
            }),
            open: true,
        })
    }
}

/// The statements of one storage table, built once.
struct TableSql {
    get: String,
    get_many: String,
    put: String,
    put_many: String,
    delete: String,
    delete_many: String,
    take: String,
    name: String,
}

impl TableSql {
    fn new(name: &str) -> Self {
        Self {
            get: format!("SELECT v FROM {name} WHERE k = $1"),
            put: format!(
                "INSERT INTO {name} (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = \
                 excluded.v"
            ),
            get_many: format!("SELECT k, v FROM {name} WHERE k = ANY($1::bytea[])"),
            put_many: format!(
                "INSERT INTO {name} (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON \
                 CONFLICT (k) DO UPDATE SET v = excluded.v"
            ),
            delete: format!("DELETE FROM {name} WHERE k = $1"),
            delete_many: format!("DELETE FROM {name} WHERE k = ANY($1::bytea[])"),
            take: format!("DELETE FROM {name} WHERE k = $1 RETURNING k"),
            name: name.to_owned(),
        }
    }
}

/// One statement of a pipeline: a simple-protocol command (`BEGIN …`, `COMMIT`) or a
/// statement with parameters, prepared once per connection.
struct Stmt {
    sql: String,
    params: Vec<Param>,
    simple: bool,
}

/// A statement parameter: a key or value (`bytea`), several (`bytea[]`), or a row limit
/// (`int8`).
enum Param {
    Bytes(Vec<u8>),
    Many(Vec<Vec<u8>>),
    Int(i64),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Bytes(b) => b,
            Self::Many(b) => b,
            Self::Int(i) => i,
        }
    }
}

/// A pooled connection and the statements prepared on it (parsed and planned once per
/// connection, then only bound and executed).
struct Conn {
    client: Client,
    prepared: Mutex<HashMap<String, Statement>>,
}

impl Conn {
    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

impl Stmt {
    fn simple(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            params: Vec::new(),
            simple: true,
        }
    }

    fn typed(sql: String, params: Vec<Param>) -> Self {
        Self {
            sql,
            params,
            simple: false,
        }
    }
}

/// Sends `stmts` on `conn` back to back (tokio-postgres pipelines requests that are polled
/// together, in the order first polled) and waits for every answer: one round trip for all,
/// plus one the first time a connection meets a statement (to prepare it). After a failed
/// statement the server answers the later ones of the same transaction with "transaction
/// aborted", so the first error is the one that counts.
fn pipeline(conn: &Conn, stmts: Vec<Stmt>) -> Vec<Result<Vec<Row>, tokio_postgres::Error>> {
    let client = &conn.client;
    let mut handles: Vec<Option<Statement>> = {
        let cache = conn.prepared.lock().unwrap_or_else(|e| e.into_inner());
        stmts.iter().map(|s| cache.get(&s.sql).cloned()).collect()
    };
    let mut new: Vec<&str> = stmts
        .iter()
        .zip(&handles)
        .filter(|(s, h)| !s.simple && h.is_none())
        .map(|(s, _)| s.sql.as_str())
        .collect();
    new.sort_unstable();
    new.dedup();
    if !new.is_empty() {
        let made = wait(|| block_on(join_all(new.iter().map(|sql| client.prepare(sql)))));
        let mut cache = conn.prepared.lock().unwrap_or_else(|e| e.into_inner());
        for (sql, made) in new.iter().zip(made) {
            match made {
                Ok(statement) => {
                    cache.insert((*sql).to_owned(), statement);
                }
                Err(e) => {
                    // It does not prepare (a table dropped under us, a broken connection):
                    // that is the answer of the first statement; the others are not sent.
                    let mut out = vec![Err(e)];
                    out.resize_with(stmts.len(), || Ok(Vec::new()));
                    return out;
                }
            }
        }
        for (s, h) in stmts.iter().zip(handles.iter_mut()) {
            if !s.simple && h.is_none() {
                *h = cache.get(&s.sql).cloned();
            }
        }
    }
    let answers = stmts.iter().zip(&handles).map(|(s, h)| async move {
        match h {
            Some(statement) if !s.simple => {
                let params: Vec<&(dyn ToSql + Sync)> = s.params.iter().map(Param::as_sql).collect();
                client.query(statement, &params).await
            }
            _ => client.batch_execute(&s.sql).await.map(|()| Vec::new()),
        }
    });
    let results = wait(|| block_on(join_all(answers)));
    // A statement the server no longer knows (dropped by a pooler, or its plan invalidated by
    // a schema change): forget them all, so the next use prepares again.
    let stale = |e: &tokio_postgres::Error| {
        e.code().is_some_and(|c| {
            *c == SqlState::INVALID_SQL_STATEMENT_NAME || *c == SqlState::FEATURE_NOT_SUPPORTED
        })
    };
    if results.iter().any(|r| r.as_ref().is_err_and(stale)) {
        conn.prepared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
    results
}

/// Runs `fut` to completion on this thread. The client's futures only wait for the
/// connection task (on the store's runtime) to answer, so this thread parks until woken.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// A lent connection, back to the pool when dropped (or closed for good if it broke).
struct Lease<'s> {
    store: &'s PgStore,
    client: Option<Arc<Conn>>,
}

impl Lease<'_> {
    fn client(&self) -> Arc<Conn> {
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

/// One transaction on one lent connection, with as few round trips as its reads allow:
/// - `BEGIN` is not sent alone: it leads the first round trip the transaction makes;
/// - writes are not sent when made: they wait, in order, and go ahead of the next read (or
///   `COMMIT`) in the same round trip;
/// - what the transaction has read or written is remembered, so reading it again (or
///   deleting a key whose presence is known) costs nothing. The transaction's snapshot never
///   changes except by its own writes, so what it remembers stays true until it ends;
/// - a transaction that never sent anything commits or rolls back without a round trip.
///
/// Dropped open, it rolls back.
struct PgTxn<'s> {
    store: &'s PgStore,
    conn: Lease<'s>,
    state: RefCell<TxnState>,
    open: bool,
}

/// One table's waiting writes: the keys and values to upsert, the keys to delete.
type TableWrites = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// Range scans up to this many entries are remembered by the transaction.
const REMEMBER_RANGE: usize = 10_000;

struct TxnState {
    /// `BEGIN …`, until sent.
    begin: Option<&'static str>,
    /// Writes not sent yet: each key's last value (`None` = deleted). Only the final state of
    /// a key matters to the transaction, and sending them sorted (by table, then key) makes
    /// concurrent transactions lock rows in one order.
    dirty: BTreeMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
    /// Whether `COMMIT` is preceded by a NOTIFY of the change-log channel.
    notify: bool,
    /// Values this transaction knows (read or written): `None` = absent.
    known: HashMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
    /// Whether a statement failed: the server aborted the transaction (or what waited was never
    /// sent), so nothing more is sent and it cannot commit.
    failed: bool,
}

impl PgTxn<'_> {
    /// Refuses once a statement of the transaction failed: after that only a rollback remains.
    fn usable(&self) -> StorageResult<()> {
        if self.state.borrow().failed {
            return Err(StorageError::backend(
                "an earlier statement of this PostgreSQL transaction failed; it can only be \
                 rolled back",
            ));
        }
        Ok(())
    }

    /// Sends `stmts` (see [`pipeline`]) and notes a failure.
    fn exchange(&self, stmts: Vec<Stmt>) -> Vec<Result<Vec<Row>, tokio_postgres::Error>> {
        let results = pipeline(&self.conn.client(), stmts);
        if results.iter().any(Result::is_err) {
            self.state.borrow_mut().failed = true;
        }
        results
    }

    /// Sends what waits and `last` in one round trip; `last`'s rows, or the first error.
    fn send(&self, last: Stmt) -> StorageResult<Vec<Row>> {
        self.usable()?;
        let stmts = self.take_waiting(Some(last))?;
        let mut results = self.exchange(stmts);
        let last = results.pop().expect("one answer per statement");
        for r in results {
            r.map_err(sql_error)?;
        }
        last.map_err(sql_error)
    }

    /// `BEGIN` if not sent yet, the waiting writes (one upsert and one delete statement per
    /// table at most), then `last`.
    fn take_waiting(&self, last: impl IntoIterator<Item = Stmt>) -> StorageResult<Vec<Stmt>> {
        let mut state = self.state.borrow_mut();
        let mut stmts = Vec::new();
        if let Some(begin) = state.begin.take() {
            stmts.push(Stmt::simple(begin));
        }
        let dirty = std::mem::take(&mut state.dirty);
        drop(state);
        let mut tables: BTreeMap<&'static str, TableWrites> = BTreeMap::new();
        for ((table, key), value) in dirty {
            let (keys, values, gone) = tables.entry(table).or_default();
            match value {
                Some(value) => {
                    keys.push(key);
                    values.push(value);
                }
                None => gone.push(key),
            }
        }
        for (table, (mut keys, mut values, mut gone)) in tables {
            let sql = self.store.ensure(TableName(table))?;
            match keys.len() {
                0 => {}
                1 => stmts.push(Stmt::typed(
                    sql.put.clone(),
                    vec![
                        Param::Bytes(keys.pop().expect("one key")),
                        Param::Bytes(values.pop().expect("one value")),
                    ],
                )),
                _ => stmts.push(Stmt::typed(
                    sql.put_many.clone(),
                    vec![Param::Many(keys), Param::Many(values)],
                )),
            }
            match gone.len() {
                0 => {}
                1 => stmts.push(Stmt::typed(
                    sql.delete.clone(),
                    vec![Param::Bytes(gone.pop().expect("one key"))],
                )),
                _ => stmts.push(Stmt::typed(
                    sql.delete_many.clone(),
                    vec![Param::Many(gone)],
                )),
            }
        }
        stmts.extend(last);
        Ok(stmts)
    }

    fn known(&self, table: TableName, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.state
            .borrow()
            .known
            .get(&(table.0, key.to_vec()))
            .cloned()
    }

    fn remember(&self, table: TableName, key: &[u8], value: Option<Vec<u8>>) {
        self.state
            .borrow_mut()
            .known
            .insert((table.0, key.to_vec()), value);
    }

    /// Ends the transaction with `sql` (`COMMIT` or `ROLLBACK`), sending what still waits
    /// ahead of it.
    fn finish(&mut self, sql: &'static str) -> StorageResult<()> {
        let never_began = self.state.borrow().begin.is_some();
        if never_began && (sql == "ROLLBACK" || self.state.borrow().dirty.is_empty()) {
            // Nothing was ever sent: nothing to end.
            self.open = false;
            return Ok(());
        }
        if sql == "ROLLBACK" || self.state.get_mut().failed {
            // Writes not sent yet are simply forgotten. (Queuing ROLLBACK without waiting for
            // its answer was tried: no gain, since the connection's next user waits for it.)
            self.open = false;
            let state = self.state.get_mut();
            state.dirty.clear();
            let failed = state.failed;
            if state.begin.take().is_none() {
                self.store.batch(&self.conn, "ROLLBACK".into())?;
            }
            return match (sql, failed) {
                ("COMMIT", true) => Err(StorageError::backend(
                    "not committed: an earlier statement of this PostgreSQL transaction failed",
                )),
                _ => Ok(()),
            };
        }
        let mut end = Vec::with_capacity(2);
        if sql == "COMMIT"
            && self.state.get_mut().notify
            && let Some(n) = self.store.notify()
        {
            // Delivered to listeners only if the transaction commits. A statement of its own:
            // in one message with COMMIT, a failure before it would skip the COMMIT and leave
            // the connection inside the aborted transaction.
            end.push(Stmt::simple(&format!(
                "NOTIFY {}, '{}'",
                n.channel, n.origin
            )));
        }
        end.push(Stmt::simple(sql));
        let stmts = self.take_waiting(end)?;
        self.open = false;
        let results = self.exchange(stmts);
        match results.into_iter().find_map(Result::err) {
            None => Ok(()),
            // The server answered: the transaction is over, not committed. (COMMIT in a
            // transaction a failed statement aborted rolls it back; a ROLLBACK besides makes
            // sure no connection goes back to the pool inside a transaction, whatever failed.)
            Some(e) if e.code().is_some() => {
                let _ = self.store.batch(&self.conn, "ROLLBACK".into());
                Err(sql_error(e))
            }
            // The connection went away while the statements or COMMIT were in flight: it may
            // or may not have committed. Never retried as a conflict.
            Some(e) => Err(StorageError::backend(format!(
                "the outcome of {sql} is unknown (the connection failed): {}",
                with_causes(&e)
            ))),
        }
    }
}

impl Drop for PgTxn<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.finish("ROLLBACK");
        }
    }
}

impl ReadTxn for PgTxn<'_> {
    fn get(&self, table: TableName, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        if let Some(value) = self.known(table, key) {
            return Ok(value);
        }
        let sql = self.store.ensure(table)?;
        let rows = self.send(Stmt::typed(
            sql.get.clone(),
            vec![Param::Bytes(key.to_vec())],
        ))?;
        let value = rows.first().map(|r| r.get::<_, Vec<u8>>(0));
        self.remember(table, key, value.clone());
        Ok(value)
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
        let sql = self.store.ensure(table)?;
        let mut params = Vec::new();
        let mut clauses = Vec::new();
        for (bound, inclusive, exclusive) in [(start, ">=", ">"), (end, "<=", "<")] {
            let (op, key) = match bound {
                Bound::Included(k) => (inclusive, k),
                Bound::Excluded(k) => (exclusive, k),
                Bound::Unbounded => continue,
            };
            params.push(Param::Bytes(key.to_vec()));
            clauses.push(format!("k {op} ${}", params.len()));
        }
        let mut query = format!("SELECT k, v FROM {}", sql.name);
        if !clauses.is_empty() {
            query.push_str(" WHERE ");
            query.push_str(&clauses.join(" AND "));
        }
        params.push(Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        query.push_str(&format!(" ORDER BY k LIMIT ${}", params.len()));
        let rows = self.send(Stmt::typed(query, params))?;
        let entries: Vec<Entry> = rows.into_iter().map(|r| (r.get(0), r.get(1))).collect();
        if entries.len() <= REMEMBER_RANGE {
            // A scan is often followed by deletes of what it found (a purge): known keys are
            // deleted without a round trip each.
            for (k, v) in &entries {
                self.remember(table, k, Some(v.clone()));
            }
        }
        Ok(entries)
    }

    fn get_many(&self, table: TableName, keys: &[&[u8]]) -> StorageResult<Vec<Option<Vec<u8>>>> {
        let wanted: Vec<(TableName, &[u8])> = keys.iter().map(|k| (table, *k)).collect();
        self.prefetch(&wanted)?;
        keys.iter().map(|k| self.get(table, k)).collect()
    }

    fn prefetch(&self, keys: &[(TableName, &[u8])]) -> StorageResult<()> {
        let mut missing: Vec<(TableName, &[u8])> = Vec::new();
        for &(table, key) in keys {
            if self.known(table, key).is_none() && !missing.contains(&(table, key)) {
                missing.push((table, key));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        // One statement per table: `= $1` for one key, `= ANY($1)` for several.
        let mut tables: BTreeMap<TableName, Vec<&[u8]>> = BTreeMap::new();
        for (table, key) in missing {
            tables.entry(table).or_default().push(key);
        }
        let mut stmts = Vec::with_capacity(tables.len());
        for (table, keys) in &tables {
            let sql = self.store.ensure(*table)?;
            stmts.push(match keys.as_slice() {
                [key] => Stmt::typed(sql.get.clone(), vec![Param::Bytes(key.to_vec())]),
                _ => Stmt::typed(
                    sql.get_many.clone(),
                    vec![Param::Many(keys.iter().map(|k| k.to_vec()).collect())],
                ),
            });
        }
        self.usable()?;
        let stmts = self.take_waiting(stmts)?;
        let results = self.exchange(stmts);
        let leading = results.len() - tables.len();
        let mut results = results.into_iter();
        for r in results.by_ref().take(leading) {
            r.map_err(sql_error)?;
        }
        for ((table, keys), rows) in tables.into_iter().zip(results) {
            let rows = rows.map_err(sql_error)?;
            if let [key] = keys.as_slice() {
                self.remember(table, key, rows.first().map(|r| r.get::<_, Vec<u8>>(0)));
                continue;
            }
            let mut found: HashMap<Vec<u8>, Vec<u8>> =
                rows.into_iter().map(|r| (r.get(0), r.get(1))).collect();
            for key in keys {
                self.remember(table, key, found.remove(key));
            }
        }
        Ok(())
    }
}

impl WriteTxn for PgTxn<'_> {
    fn put(&mut self, table: TableName, key: &[u8], value: &[u8]) -> StorageResult<()> {
        self.store.ensure(table)?;
        let state = self.state.get_mut();
        state
            .dirty
            .insert((table.0, key.to_vec()), Some(value.to_vec()));
        state
            .known
            .insert((table.0, key.to_vec()), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, table: TableName, key: &[u8]) -> StorageResult<bool> {
        let sql = self.store.ensure(table)?;
        let present = match self.known(table, key) {
            Some(value) => {
                if value.is_some() {
                    self.state
                        .get_mut()
                        .dirty
                        .insert((table.0, key.to_vec()), None);
                }
                value.is_some()
            }
            None => !self
                .send(Stmt::typed(
                    sql.take.clone(),
                    vec![Param::Bytes(key.to_vec())],
                ))?
                .is_empty(),
        };
        self.remember(table, key, None);
        Ok(present)
    }

    fn notify_on_commit(&mut self) -> StorageResult<()> {
        self.state.get_mut().notify = true;
        Ok(())
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
        // trait's contract: a reader sees nothing committed after it began), by a first
        // statement in the same round trip as `BEGIN`. A write transaction's `BEGIN` waits for
        // its first statement instead: under SERIALIZABLE, when its snapshot was taken is not
        // observable.
        let txn = self.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        txn.send(Stmt::simple("SELECT 1"))?;
        Ok(Box::new(txn))
    }

    fn begin_write(&self) -> StorageResult<Box<dyn WriteTxn + '_>> {
        Ok(Box::new(self.begin("BEGIN ISOLATION LEVEL SERIALIZABLE")?))
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn watch(&self, wake: Wake) -> StorageResult<bool> {
        let Some(notify) = self.notify() else {
            return Ok(false);
        };
        let listen = format!("LISTEN {}", notify.channel);
        let origin = notify.origin.clone();
        let config = self.shared.config.clone();
        let tls = self.shared.tls.clone();
        let label = self.shared.label.clone();
        self.shared.handle.spawn(async move {
            let mut delay = Duration::from_millis(100);
            loop {
                match listen_once(&config, tls.clone(), &listen, &origin, &wake).await {
                    Ok(Listened::WatcherGone) => return,
                    Ok(Listened::Lost(e)) => {
                        tracing::warn!(database = %label, "change wake-ups lost: {e}; reconnecting");
                        delay = Duration::from_millis(100);
                    }
                    Err(e) => tracing::warn!(
                        database = %label,
                        "cannot listen for change wake-ups: {}; retrying",
                        with_causes(&e)
                    ),
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
        });
        Ok(true)
    }
}

enum Listened {
    /// `wake` returned false: nobody follows any more.
    WatcherGone,
    /// The listening connection ended.
    Lost(String),
}

/// One listening connection: LISTEN, then `wake` for every notification of another origin
/// (and once after LISTEN, for what may have been missed while not listening).
async fn listen_once(
    config: &Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    listen: &str,
    origin: &str,
    wake: &Wake,
) -> Result<Listened, tokio_postgres::Error> {
    use futures_util::StreamExt;
    let mut config = config.clone();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    let (client, mut connection) = config.connect(tls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    if tx.send(Ok(n.payload().to_owned())).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            }
        }
        let _ = tx.send(Err("the connection closed".to_owned()));
    });
    let outcome = async {
        client.batch_execute(listen).await?;
        if !wake() {
            return Ok(Listened::WatcherGone);
        }
        // Once a minute without notifications, ask whether anyone still follows (a spare
        // wake-up costs one read of the log's head), so a dropped handle's listener ends.
        let mut alive = tokio::time::interval(Duration::from_secs(60));
        alive.tick().await;
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Ok(payload)) if payload == origin => {}
                    Some(Ok(_)) => {
                        if !wake() {
                            return Ok(Listened::WatcherGone);
                        }
                    }
                    Some(Err(e)) => return Ok(Listened::Lost(e)),
                    None => return Ok(Listened::Lost("the connection closed".to_owned())),
                },
                _ = alive.tick() => {
                    if !wake() {
                        return Ok(Listened::WatcherGone);
                    }
                }
            }
        }
    }
    .await;
    driver.abort();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modelgates_own_parameters_are_taken_out_of_the_url() {
        let own = &["schema", "notify"];
        assert_eq!(
            take_params(
                "postgres://u@h/db?schema=mg_a&sslmode=disable&notify=off",
                own
            ),
            (
                "postgres://u@h/db?sslmode=disable".to_owned(),
                vec![
                    ("schema".to_owned(), "mg_a".to_owned()),
                    ("notify".to_owned(), "off".to_owned())
                ]
            )
        );
        assert_eq!(
            take_params("postgres://u@h/db?schema=mg_a", own),
            (
                "postgres://u@h/db".to_owned(),
                vec![("schema".to_owned(), "mg_a".to_owned())]
            )
        );
        assert_eq!(
            take_params("postgres://u@h/db", own),
            ("postgres://u@h/db".to_owned(), Vec::new())
        );
        let err = PgStore::open("postgres://u@127.0.0.1:1/db?notify=sometimes").unwrap_err();
        assert!(err.to_string().contains("notify=\"sometimes\""), "{err}");
    }
}
