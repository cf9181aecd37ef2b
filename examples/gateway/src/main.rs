//! `modelgates-gateway`: the OpenAI-compatible gateway at `/v1`, and the ModelGates control
//! plane (MCP at `/mcp`, REST at `/api/v1`, management keys) on the same port and handle.
//!
//! ```text
//! modelgates keys create --management --db gateway.redb    # before the first start
//! cargo run --release -p modelgates-example-gateway -- --db gateway.redb --listen 127.0.0.1:8080
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use modelgates::ModelGates;
use modelgates_example_gateway::{Gateway, GatewayOptions, Recorder};
use modelgates_postgres::PgStore;
use modelgates_redb::RedbStore;
use tracing_subscriber::EnvFilter;

#[derive(Parser, Debug)]
#[command(
    name = "modelgates-gateway",
    version,
    about = "An OpenAI-compatible mux gateway on ModelGates, with its control plane"
)]
struct Cli {
    /// The database: a redb file (created on first use) or a postgres:// URL (shared with
    /// `modelgates serve` instances, whose changes this gateway follows).
    #[arg(long, env = "MODELGATES_DB", default_value = "gateway.redb")]
    db: PathBuf,
    /// Where to listen (port 0 picks a free one; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve only the gateway, not the control plane (MCP and REST).
    #[arg(long)]
    no_control_plane: bool,
    /// Do not store prompts and answers with the usage records.
    #[arg(long)]
    no_conversations: bool,
    /// Seconds a provider may take to send its response head.
    #[arg(long, default_value_t = 300)]
    response_timeout: u64,
}

/// The opened store, to close a redb file cleanly at the end.
enum Store {
    Redb(RedbStore),
    Postgres,
}

fn open(db: &std::path::Path) -> Result<(Store, ModelGates), Box<dyn std::error::Error>> {
    if let Some(url) = db
        .to_str()
        .filter(|s| modelgates_postgres::is_postgres_url(s))
    {
        let store = PgStore::open(url)?;
        tracing::info!(database = %store.label(), "opened PostgreSQL; following other instances' changes");
        let gates = ModelGates::open_with(Arc::new(store), modelgates::Options::default())?;
        return Ok((Store::Postgres, gates));
    }
    let store = RedbStore::open(db)?;
    tracing::info!(file = %db.display(), "opened the redb file");
    let gates = ModelGates::open_with(Arc::new(store.clone()), modelgates::Options::default())?;
    Ok((Store::Redb(store), gates))
}

async fn shutdown_signal() {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            EnvFilter::try_from_env("MODELGATES_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("modelgates-gateway: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modelgates-gateway: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let (store, gates) = open(&cli.db)?;
    let (recorder, recording) = Recorder::start(gates.clone())?;
    let options = GatewayOptions {
        log_conversations: !cli.no_conversations,
        response_timeout: std::time::Duration::from_secs(cli.response_timeout.max(1)),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::new(gates.clone(), recorder, options)?;
    let token = tokio_util::sync::CancellationToken::new();
    let limits = modelgates_mcp::http::Limits::default();
    let mut app = gateway.router();
    if !cli.no_control_plane {
        let http = modelgates_mcp::http::HttpOptions {
            limits: limits.clone(),
            ..Default::default()
        };
        app = app.merge(modelgates_mcp::http::router(
            gates.clone(),
            &http,
            token.clone(),
        ));
        modelgates_mcp::spawn_retention(gates.clone());
    }
    let listener = tokio::net::TcpListener::bind(cli.listen).await?;
    let local = listener.local_addr()?;
    // Stable lines for scripts and tests: where the server listens.
    eprintln!("modelgates-gateway: serving the OpenAI-compatible API at http://{local}/v1");
    if !cli.no_control_plane {
        eprintln!(
            "modelgates-gateway: serving the control plane at http://{local}/api/v1 and http://{local}/mcp"
        );
    }
    let stop = token.clone();
    modelgates_mcp::http::serve(listener, app, &limits, async move {
        shutdown_signal().await;
        tracing::info!("stopping: finishing in-flight requests");
        stop.cancel();
    })
    .await?;
    // The router (and its recorder handles) is gone with `serve`; streams still running after
    // the grace period hold theirs, so the wait for the recorder is bounded too.
    tracing::info!("waiting for the usage recorder to record what is queued");
    let joined = tokio::task::spawn_blocking(move || recording.join());
    if tokio::time::timeout(std::time::Duration::from_secs(30), joined)
        .await
        .is_err()
    {
        tracing::warn!("the usage recorder did not finish in 30 s; stopping anyway");
    }
    drop(gates);
    if let Store::Redb(store) = store {
        store.close()?;
    }
    Ok(())
}
