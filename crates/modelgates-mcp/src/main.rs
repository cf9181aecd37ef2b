//! The `modelgates` binary: `modelgates mcp` serves MCP over stdio on the embedded redb store;
//! `check` and `backup` maintain the database file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use std::sync::Arc;

use modelgates::{
    ApplyOptions, Bundle, BundlePlan, Catalog, EnvSecrets, Frontend, KeyKind, ModelGates, NewKey,
    Options,
};
use modelgates_mcp::{McpServer, Surface};
use modelgates_postgres::PgStore;
use modelgates_redb::RedbStore;
use rmcp::ServiceExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::prelude::*;

#[derive(Parser, Debug)]
#[command(
    name = "modelgates",
    version,
    about = "Control plane of an LLM gateway, served over MCP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve MCP over stdio (for Claude Code, Cursor and other local clients). Nothing but MCP
    /// messages is written to stdout; logs go to stderr (filter with RUST_LOG).
    Mcp {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        surface: SurfaceArgs,
        /// A model catalog file to use instead of the built-in one (same shape as
        /// crates/modelgates/catalog/models.json). On start, workspaces gain its new models and
        /// its prices; enable/disable choices are kept.
        #[arg(long, env = "MODELGATES_CATALOG")]
        catalog: Option<PathBuf>,
        /// Let `modelgates backup` copy the database while this server runs (other processes may
        /// open it read-only). Costs each durable commit ~80 µs (docs/benchmarks.md).
        #[arg(long)]
        live_backup: bool,
    },
    /// Serve MCP over streamable HTTP at /mcp (for shared, remote use). Every request needs
    /// `Authorization: Bearer <management key>`; create the first with `keys create`.
    Serve {
        /// Address to listen on (loopback by default; port 0 picks a free port).
        #[arg(long = "http", default_value = "127.0.0.1:8787")]
        addr: std::net::SocketAddr,
        #[command(flatten)]
        db: DbArg,
        /// A model catalog file to use instead of the built-in one (see `mcp --help`).
        #[arg(long, env = "MODELGATES_CATALOG")]
        catalog: Option<PathBuf>,
        /// A browser origin allowed to call, e.g. http://localhost:6274 (repeatable). Requests
        /// with any other Origin header get 403; requests without one pass.
        #[arg(long = "allow-origin")]
        allowed_origins: Vec<String>,
        /// A Host header value to accept besides loopback names (repeatable), for a server
        /// behind a reverse proxy.
        #[arg(long = "allow-host")]
        allowed_hosts: Vec<String>,
        #[command(flatten)]
        surface: SurfaceArgs,
        /// TEST ONLY: serve without authentication, as the org admin (for protocol
        /// conformance suites). Refused unless the address is loopback.
        #[arg(long, hide = true)]
        insecure_no_auth: bool,
        /// Let `modelgates backup` copy the database while this server runs (other processes may
        /// open it read-only). Costs each durable commit ~80 µs (docs/benchmarks.md).
        #[arg(long)]
        live_backup: bool,
        /// Open connections at most (more are closed at once).
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// Open connections from one IP address at most.
        #[arg(long, default_value_t = 128)]
        max_connections_per_ip: usize,
        /// Open MCP sessions at most, in total (initialize beyond it: 503).
        #[arg(long, default_value_t = 10_000)]
        max_sessions: usize,
        /// Open MCP sessions per API key at most (initialize beyond it: 429). Sessions idle for
        /// 5 minutes are closed.
        #[arg(long, default_value_t = 100)]
        max_sessions_per_key: usize,
        /// Seconds a client has to send a request's headers, also while a kept-alive
        /// connection waits for its next request; the connection is closed after it.
        #[arg(long, default_value_t = 10)]
        header_read_timeout: u64,
        /// Seconds in-flight requests get after SIGINT/SIGTERM before the server stops anyway.
        #[arg(long, default_value_t = 10)]
        shutdown_grace: u64,
    },
    /// Manage API keys from the command line (bootstrap: the first management key).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check the database: redb's integrity check (repairing an interrupted commit), then every
    /// record is decoded and every cross-table invariant verified. Exit code 0 when consistent.
    /// Run it while no server has the file open.
    Check {
        #[command(flatten)]
        db: DbArg,
    },
    /// Show what applying a configuration bundle (YAML or JSON) would change, as the org
    /// admin; changes nothing. Provider API keys are read from the referenced environment
    /// variables or files. Exit code 0; the plan's fingerprint is printed last.
    Plan {
        /// The bundle file (`-` reads standard input).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Plan to take over declared resources made by hand or by another bundle.
        #[arg(long)]
        adopt: bool,
        /// Print the plan as JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Apply a configuration bundle in one transaction, as the org admin: exactly its plan,
    /// all or nothing. Run it while no server has a redb file open (PostgreSQL: any time).
    Apply {
        /// The bundle file (`-` reads standard input).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Take over declared resources made by hand or by another bundle.
        #[arg(long)]
        adopt: bool,
        /// Apply only if the plan's fingerprint is still this one (from `plan`).
        #[arg(long)]
        expected: Option<String>,
        /// Print the applied plan as JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Print the account's configuration as a bundle (YAML on stdout; API keys as references
    /// to MODELGATES_PROVIDER_<NAME>_API_KEY, never the keys).
    Export {
        /// The bundle key of the exported bundle.
        #[arg(long, default_value = "exported")]
        bundle: String,
        /// Print JSON instead of YAML.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Write a consistent copy of the database to a new file, from one read transaction of the
    /// last commit. Works while a server has the file open.
    Backup {
        /// The backup file to create (must not exist).
        dest: PathBuf,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Create an API key for the account's org admin and print its secret — once, alone on
    /// stdout (details go to stderr). Works on a fresh database.
    Create {
        /// The key's name.
        #[arg(long)]
        name: String,
        /// Create a management key (for `serve --http`); without it, an inference key.
        #[arg(long)]
        management: bool,
        /// The workspace (UUID or slug) the key belongs to.
        #[arg(long, default_value = "default")]
        workspace: String,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(clap::Args, Debug)]
struct SurfaceArgs {
    /// Expose only read-only tools (lists and gets).
    #[arg(long)]
    read_only: bool,
    /// Expose only these toolsets (comma-separated): workspaces, members, keys, models,
    /// routing, personas, or all (default).
    #[arg(long, value_delimiter = ',')]
    toolsets: Vec<String>,
}

impl SurfaceArgs {
    fn surface(&self) -> Result<Surface, String> {
        Ok(Surface {
            read_only: self.read_only,
            toolsets: Surface::parse_toolsets(&self.toolsets)?,
        })
    }
}

#[derive(clap::Args, Debug)]
struct DbArg {
    /// The database: a redb file (created, with its directory, if missing) or a PostgreSQL URL
    /// (`postgres://user@host:5432/db`; its tables are created if missing).
    #[arg(long = "db", env = "MODELGATES_DB", default_value_os_t = default_db_path())]
    path: PathBuf,
}

/// `$XDG_DATA_HOME/modelgates/modelgates.redb`, else `~/.local/share/modelgates/modelgates.redb`,
/// else `./modelgates.redb`.
fn default_db_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    match base {
        Some(dir) => dir.join("modelgates").join("modelgates.redb"),
        None => PathBuf::from("modelgates.redb"),
    }
}

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,modelgates=info,modelgates_mcp=info"));
    // rmcp logs whole JSON-RPC messages at debug and trace — tool arguments included, and so
    // provider API keys. Its events above info never pass, whatever RUST_LOG says.
    let no_protocol_dumps = filter_fn(|meta| {
        !meta.target().starts_with("rmcp") || *meta.level() <= tracing::Level::INFO
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_filter(filter.and(no_protocol_dumps)),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("modelgates: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modelgates: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT or SIGTERM with the signal's name.
async fn shutdown_signal() -> std::io::Result<String> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT".to_owned()),
        _ = term.recv() => Ok("SIGTERM".to_owned()),
    }
}

/// The store a command opened.
enum Store {
    Redb(RedbStore),
    Postgres(PgStore),
}

impl Store {
    /// What to log for the database: the file, or the server and database (never the URL,
    /// which may hold a password).
    fn describe(&self, db: &std::path::Path) -> String {
        match self {
            Self::Redb(_) => db.display().to_string(),
            Self::Postgres(s) => match s.encryption() {
                Ok(Some(version)) => format!("postgres {} ({version})", s.label()),
                Ok(None) => format!("postgres {} (not encrypted)", s.label()),
                Err(_) => format!("postgres {}", s.label()),
            },
        }
    }

    /// Flushes and releases a redb file; a PostgreSQL pool just closes with the process.
    fn close(&self) -> Result<(), Box<dyn std::error::Error>> {
        match self {
            Self::Redb(s) => Ok(s.close()?),
            Self::Postgres(_) => Ok(()),
        }
    }
}

/// The PostgreSQL URL `db` is, if it is one.
fn postgres_url(db: &std::path::Path) -> Option<&str> {
    db.to_str()
        .filter(|s| modelgates_postgres::is_postgres_url(s))
}

/// Opens the database (and the catalog file, if given) as every serving command does.
/// Opens an existing database for `plan`, `apply` and `export`: a missing redb file is an
/// error (not a new database), and the catalog is not synced (a plan changes nothing; a server
/// started with `--catalog` keeps its catalog).
fn open_existing(db: &std::path::Path) -> Result<(Store, ModelGates), Box<dyn std::error::Error>> {
    if postgres_url(db).is_none() && !db.exists() {
        return Err(format!(
            "no database at {}: pass --db (or MODELGATES_DB)",
            db.display()
        )
        .into());
    }
    let options = Options {
        sync_catalog: false,
        ..Options::default()
    };
    if let Some(url) = postgres_url(db) {
        let store = PgStore::open(url)?;
        let gates = ModelGates::open_with(Arc::new(store.clone()), options)?;
        return Ok((Store::Postgres(store), gates));
    }
    let store = RedbStore::open(db)?;
    let gates = ModelGates::open_with(Arc::new(store.clone()), options)?;
    Ok((Store::Redb(store), gates))
}

fn open(
    db: &std::path::Path,
    catalog: Option<&std::path::Path>,
    live_backup: bool,
) -> Result<(Store, ModelGates), Box<dyn std::error::Error>> {
    let mut options = Options::default();
    if let Some(path) = catalog {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read catalog {}: {e}", path.display()))?;
        let parsed =
            Catalog::from_json(&text).map_err(|e| format!("catalog {}: {e}", path.display()))?;
        options.catalog = Arc::new(parsed);
    }
    if let Some(url) = postgres_url(db) {
        if live_backup {
            return Err(
                "--live-backup is for redb files; back up PostgreSQL with its own tools \
                        (pg_dump, replicas)"
                    .into(),
            );
        }
        let store = PgStore::open(url)?;
        let gates = ModelGates::open_with(Arc::new(store.clone()), options)?;
        return Ok((Store::Postgres(store), gates));
    }
    let store = if live_backup {
        RedbStore::open_shared(db)?
    } else {
        RedbStore::open(db)?
    };
    let gates = ModelGates::open_with(Arc::new(store.clone()), options)?;
    Ok((Store::Redb(store), gates))
}

/// `modelgates check`: prints what it read and every problem; fails if there is one.
fn check(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(url) = postgres_url(path) {
        let options = Options {
            sync_catalog: false,
            ..Default::default()
        };
        let gates = ModelGates::open_with(Arc::new(PgStore::open(url)?), options)?;
        return report(gates.check()?);
    }
    if !path.exists() {
        return Err(format!("{} does not exist", path.display()).into());
    }
    let integrity = RedbStore::check_file(path)?;
    println!("redb integrity: {integrity:?}");
    let store = RedbStore::open(path)?;
    let options = Options {
        sync_catalog: false,
        ..Default::default()
    };
    let gates = ModelGates::open_with(Arc::new(store.clone()), options)?;
    let checked = gates.check()?;
    drop(gates);
    store.close()?;
    report(checked)
}

/// Prints what `check` read and every problem; fails if there is one.
fn report(report: modelgates::CheckReport) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "read {} accounts, {} members, {} workspaces, {} memberships, {} API keys, \
         {} custom models, {} catalog models, {} providers, {} mux rules, {} personas",
        report.accounts,
        report.members,
        report.workspaces,
        report.memberships,
        report.api_keys,
        report.custom_models,
        report.catalog_models,
        report.providers,
        report.mux_rules,
        report.personas
    );
    if report.is_ok() {
        println!("ok: every invariant holds");
        Ok(())
    } else {
        for p in &report.problems {
            println!("problem: {p}");
        }
        Err(format!("{} problems found", report.problems.len()).into())
    }
}

/// Reads a bundle file (`-` = standard input).
fn read_bundle(file: &std::path::Path) -> Result<Bundle, Box<dyn std::error::Error>> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?
    };
    Ok(Bundle::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?)
}

fn print_plan(plan: &BundlePlan, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    if json {
        println!("{}", serde_json::to_string_pretty(plan)?);
    } else {
        print!("{}", plan.render());
        println!("fingerprint: {}", plan.fingerprint);
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Plan {
            file,
            adopt,
            json,
            db,
        } => {
            let bundle = read_bundle(&file)?;
            let (store, gates) = open_existing(&db.path)?;
            let caller = gates.default_caller()?.via(Frontend::Cli);
            let plan =
                gates.bundle_plan(&caller, &bundle, &EnvSecrets::for_command_line(), adopt)?;
            print_plan(&plan, json)?;
            drop(gates);
            store.close()?;
            Ok(())
        }
        Command::Apply {
            file,
            adopt,
            expected,
            json,
            db,
        } => {
            let bundle = read_bundle(&file)?;
            let (store, gates) = open_existing(&db.path)?;
            let caller = gates.default_caller()?.via(Frontend::Cli);
            let options = ApplyOptions { expected, adopt };
            let plan =
                gates.bundle_apply(&caller, &bundle, &EnvSecrets::for_command_line(), &options)?;
            print_plan(&plan, json)?;
            drop(gates);
            store.close()?;
            Ok(())
        }
        Command::Export { bundle, json, db } => {
            let (store, gates) = open_existing(&db.path)?;
            let caller = gates.default_caller()?.via(Frontend::Cli);
            let exported = gates.bundle_export(&caller, &bundle)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&exported)?);
            } else {
                print!("{}", exported.to_yaml());
            }
            drop(gates);
            store.close()?;
            Ok(())
        }
        Command::Check { db } => check(&db.path),
        Command::Backup { dest, db } => {
            if postgres_url(&db.path).is_some() {
                return Err(
                    "`backup` copies redb files; back up PostgreSQL with its own tools \
                            (pg_dump, replicas)"
                        .into(),
                );
            }
            let copied = RedbStore::backup_file(&db.path, &dest).map_err(|e| match e {
                modelgates_redb::RedbError::Open {
                    source: modelgates_redb::redb::DatabaseError::DatabaseAlreadyOpen,
                    ..
                } => format!(
                    "{} is open by a server that did not allow live backups; restart it with \
                     --live-backup, or stop it first",
                    db.path.display()
                )
                .into(),
                e => Box::<dyn std::error::Error>::from(e),
            })?;
            println!(
                "backed up {} to {} ({copied} entries)",
                db.path.display(),
                dest.display()
            );
            Ok(())
        }
        Command::Keys {
            command:
                KeysCommand::Create {
                    name,
                    management,
                    workspace,
                    db,
                },
        } => {
            let (store, gates) = open(&db.path, None, false)?;
            let caller = gates.default_caller()?.via(Frontend::Cli);
            let kind = if management {
                KeyKind::Management
            } else {
                KeyKind::Inference
            };
            let new = NewKey {
                name,
                workspace,
                kind: Some(kind),
                ..Default::default()
            };
            let created = gates.key_create(&caller, new)?;
            eprintln!(
                "created {:?} key {} ({}) for {} in workspace {}; the secret below is shown once",
                kind, created.data.id, created.data.name, caller.user_id, created.data.workspace_id
            );
            // A caller without an idempotency key always gets the secret.
            println!("{}", created.key.as_deref().unwrap_or_default());
            drop(gates);
            store.close()?;
            Ok(())
        }
        Command::Serve {
            addr,
            db,
            catalog,
            allowed_origins,
            allowed_hosts,
            surface,
            insecure_no_auth,
            live_backup,
            max_connections,
            max_connections_per_ip,
            max_sessions,
            max_sessions_per_key,
            header_read_timeout,
            shutdown_grace,
        } => {
            let surface = surface.surface()?;
            let limits = modelgates_mcp::http::Limits {
                max_connections,
                max_connections_per_ip,
                max_sessions,
                max_sessions_per_key,
                header_read_timeout: std::time::Duration::from_secs(header_read_timeout.max(1)),
                shutdown_grace: std::time::Duration::from_secs(shutdown_grace),
                ..Default::default()
            };
            if insecure_no_auth && !addr.ip().is_loopback() {
                return Err("--insecure-no-auth is only allowed on a loopback address".into());
            }
            let (store, gates) = open(&db.path, catalog.as_deref(), live_backup)?;
            let listener = tokio::net::TcpListener::bind(addr).await?;
            let local = listener.local_addr()?;
            let token = tokio_util::sync::CancellationToken::new();
            modelgates_mcp::spawn_retention(gates.clone());
            let insecure_caller = if insecure_no_auth {
                Some(gates.default_caller()?)
            } else {
                None
            };
            let options = modelgates_mcp::http::HttpOptions {
                allowed_origins,
                allowed_hosts,
                surface,
                limits: limits.clone(),
                insecure_caller,
            };
            let app = modelgates_mcp::http::router(gates.clone(), &options, token.clone());
            tracing::info!(db = %store.describe(&db.path), "database open");
            // A stable line for scripts and tests: where the server listens.
            eprintln!("modelgates: serving MCP over HTTP at http://{local}/mcp");
            eprintln!("modelgates: serving the REST API at http://{local}/api/v1");
            eprintln!("modelgates: serving the dashboard at http://{local}/dashboard/");
            let stop = token.clone();
            let grace = limits.shutdown_grace.as_secs();
            modelgates_mcp::http::serve(listener, app, &limits, async move {
                let signal = shutdown_signal().await.unwrap_or_else(|e| e.to_string());
                tracing::info!("{signal}: finishing in-flight requests (at most {grace} s)");
                stop.cancel();
            })
            .await?;
            tracing::info!("HTTP server stopped; closing the database");
            drop(gates);
            store.close()?;
            Ok(())
        }
        Command::Mcp {
            db,
            catalog,
            surface,
            live_backup,
        } => {
            let surface = surface.surface()?;
            let db = db.path;
            let (store, gates) = open(&db, catalog.as_deref(), live_backup)?;
            let caller = gates.default_caller()?.via(Frontend::Mcp);
            modelgates_mcp::spawn_retention(gates.clone());
            tracing::info!(db = %store.describe(&db), account = %caller.account, user = %caller.user_id, "serving MCP over stdio");
            // Listen for signals from the start, also while waiting for the client's handshake.
            let shutdown = shutdown_signal();
            tokio::pin!(shutdown);
            let server = McpServer::new(gates, caller).with_surface(&surface);
            let (transport, writing) = modelgates_mcp::stdio::transport()?;
            let reason: Result<String, Box<dyn std::error::Error>> = async {
                Ok(tokio::select! {
                    served = server.serve(transport) => {
                        let service = served?;
                        tokio::select! {
                            r = service.waiting() => format!("client closed the session ({r:?})"),
                            signal = &mut shutdown => signal?,
                        }
                    }
                    signal = &mut shutdown => signal?,
                })
            }
            .await;
            // The transport is dropped by now: let the last answers reach stdout.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writing).await;
            let reason = reason?;
            tracing::info!("{reason}; closing the database");
            store.close()?;
            Ok(())
        }
    }
}
