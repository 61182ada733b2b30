//! `tarn`: the AWS data stack on your own machine, in one process on one port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod sql;
mod tls;

/// mimalloc: glibc's malloc/free were a tenth of the server's CPU under Firehose ingest (one or
/// two short-lived allocations per record at each stage), and DataFusion favours it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v3, as libmimalloc-sys 0.1.49 builds it); the Rust
/// bindings name no constant for it. A test checks that it is the option whose default is
/// mimalloc's purge delay.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory for reuse instead of handing it back to the kernel a second later
/// (mimalloc's default): a query frees and allocates again hundreds of megabytes, and pages
/// handed back come back zeroed by the kernel on their next use. TPC-H SF1 ran about 6%
/// faster this way (bench/TPCH-RESULTS.md, session 9); the resident size stays at the largest
/// query's peak instead of falling back between queries. `MIMALLOC_PURGE_DELAY` (milliseconds)
/// still decides when it is set.
#[allow(unsafe_code)]
fn keep_freed_memory() {
    // (MIMALLOC_RESET_DELAY is the option's older name, which mimalloc still reads)
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() && std::env::var_os("MIMALLOC_RESET_DELAY").is_none() {
        // SAFETY: mi_option_set only stores an option value; any thread may call it at any time
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
    }
}

#[derive(Parser)]
#[command(name = "tarn", version, about = "The AWS data stack on your own machine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every API on one port.
    Serve(Box<ServeArgs>),
    /// Run SQL against a running tarn (an interactive shell when no SQL is given).
    Sql(sql::SqlArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Where tarn keeps its data (metadata, blobs, keys).
    #[arg(long, env = "TARN_DATA_DIR", default_value = "./tarn-data")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "TARN_LISTEN", default_value = "127.0.0.1:4566")]
    listen: SocketAddr,
    /// The region tarn reports and signs for.
    #[arg(long, env = "TARN_REGION", default_value = "us-east-1")]
    region: String,
    /// The account id in every ARN and owner field.
    #[arg(long, env = "TARN_ACCOUNT_ID", default_value = tarn_common_account())]
    account_id: String,
    /// Open Kinesis shards allowed across all streams (AWS's default account quota is 500).
    #[arg(long, env = "TARN_KINESIS_SHARD_LIMIT", default_value_t = 500)]
    kinesis_shard_limit: u32,
    /// Enforce provisioned shard throughput (1 MiB/s or 1,000 records/s in, 2 MiB/s out) as
    /// Kinesis does; `--kinesis-enforce-limits=false` turns it off for load tests.
    #[arg(long, env = "TARN_KINESIS_ENFORCE_LIMITS", default_value_t = true, action = clap::ArgAction::Set)]
    kinesis_enforce_limits: bool,
    /// How long a stream reports CREATING after CreateStream and UPDATING after a reshard.
    #[arg(long, env = "TARN_KINESIS_STATUS_DELAY_MS", default_value_t = 300)]
    kinesis_status_delay_ms: u64,
    /// How long a Firehose delivery stream reports CREATING after CreateDeliveryStream.
    #[arg(long, env = "TARN_FIREHOSE_STATUS_DELAY_MS", default_value_t = 300)]
    firehose_status_delay_ms: u64,
    /// Address for the PostgreSQL wire protocol (SQL as Redshift serves it; user = access key
    /// id, password = secret key); `off` disables it.
    #[arg(long, env = "TARN_PG_LISTEN", default_value = "127.0.0.1:5439")]
    pg_listen: String,
    /// Base domains for virtual-host style requests (BUCKET.<domain>).
    #[arg(long = "domain", env = "TARN_DOMAINS", value_delimiter = ',', default_values_t = ["localhost".to_string(), "s3.localhost".to_string()])]
    domains: Vec<String>,
    /// Address of the HTTPS listener (beside the plain one); needs --tls-cert and --tls-key,
    /// or --tls-self-signed.
    #[arg(long, env = "TARN_TLS_LISTEN")]
    tls_listen: Option<SocketAddr>,
    /// PEM certificate chain for HTTPS and the PostgreSQL wire's SSL.
    #[arg(long, env = "TARN_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "TARN_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Users, keys, groups, roles and policies to provision at start (JSON; see README).
    #[arg(long, env = "TARN_IAM_FILE")]
    iam_file: Option<PathBuf>,
    /// Make a self-signed certificate once (kept in the data dir's keys/) and use it.
    #[arg(long, env = "TARN_TLS_SELF_SIGNED", conflicts_with = "tls_cert")]
    tls_self_signed: bool,
    /// On SIGTERM, how long the health check answers 503 while requests are still taken, so a
    /// load balancer can stop sending them (milliseconds).
    #[arg(long, env = "TARN_SHUTDOWN_GRACE_MS", default_value_t = 500)]
    shutdown_grace_ms: u64,
    /// Seconds added to the clock STS sessions are issued and checked by (for tests that move
    /// a session past its expiry; signatures keep the real clock).
    #[arg(long, env = "TARN_SESSION_CLOCK_OFFSET_SECS", default_value_t = 0, hide = true)]
    session_clock_offset_secs: i64,
    /// Seconds added to the clock KMS reads (key deletion dates, rotation periods), for tests
    /// that move a key past its deletion date.
    #[arg(long, env = "TARN_KMS_CLOCK_OFFSET_SECS", default_value_t = 0, hide = true)]
    kms_clock_offset_secs: i64,
    /// Record every API call in the audit trail (CloudTrail's format; durable before the call
    /// is answered); `--audit-trail=false` records nothing.
    #[arg(long, env = "TARN_AUDIT_TRAIL", default_value_t = true, action = clap::ArgAction::Set)]
    audit_trail: bool,
    /// How often trails deliver their records into their buckets (CloudTrail: about every
    /// five minutes).
    #[arg(long, env = "TARN_CLOUDTRAIL_DELIVERY_SECS", default_value_t = 300)]
    cloudtrail_delivery_secs: u64,
    /// Then how long in-flight HTTP requests and PostgreSQL queries may run before the process
    /// exits anyway (milliseconds).
    #[arg(long, env = "TARN_SHUTDOWN_DRAIN_MS", default_value_t = 30_000)]
    shutdown_drain_ms: u64,
}

fn tarn_common_account() -> &'static str {
    "000000000000"
}

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,s3s=off")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("tarn-io").build().expect("tokio runtime");
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(serve(*args)),
        Command::Sql(args) => runtime.block_on(sql::run(args)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tarn: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let explicit =
        match (std::env::var("TARN_ROOT_ACCESS_KEY_ID").ok(), std::env::var("TARN_ROOT_SECRET_ACCESS_KEY").ok()) {
            (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
                Some(tarn_iam::AccessKey { access_key_id: id, secret_access_key: secret })
            }
            (None, None) => None,
            _ => return Err(tarn_iam::IamError::HalfConfigured.into()),
        };
    let store = tarn_store::Store::open(&args.data_dir)?;
    let (identities, source) = tarn_iam::Identities::load(&args.data_dir.join("keys"), &args.account_id, explicit)?;
    let iam = tarn_iam::Iam::open(store.clone(), identities.clone()).await?;
    iam.set_clock_offset(args.session_clock_offset_secs);
    if let Some(path) = &args.iam_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("--iam-file {}: {e}", path.display()))?;
        let file = tarn_iam::provision::parse(&text).map_err(|e| format!("--iam-file {}: {e}", path.display()))?;
        let applied = iam.provision(file).await.map_err(|e| format!("--iam-file {}: {e}", path.display()))?;
        println!(
            "IAM file {}: {} users, {} groups, {} roles, {} policies, {} keys new or changed",
            path.display(),
            applied.users,
            applied.groups,
            applied.roles,
            applied.policies,
            applied.keys
        );
    }
    let objects = tarn_objects::Objects::open(store.clone(), &args.region).await?;
    // SSE-KMS objects are kept under KMS keys: every writer and reader of objects needs them
    let kms = match args.kms_clock_offset_secs {
        0 => tarn_kms::Kms::open(store.clone(), &args.region).await?,
        offset => {
            let clock: tarn_kms::Clock =
                std::sync::Arc::new(move || tarn_common::now_unix_nanos() / 1_000_000 + offset.saturating_mul(1000));
            tarn_kms::Kms::open_with_clock(store.clone(), &args.region, clock).await?
        }
    };
    objects.set_kms(kms.clone(), &args.account_id);
    let streams = tarn_streams::Streams::open(
        store.clone(),
        tarn_streams::StreamsConfig {
            region: args.region.clone(),
            account_id: args.account_id.clone(),
            shard_limit: args.kinesis_shard_limit,
            enforce_limits: args.kinesis_enforce_limits,
            activation_delay_ms: args.kinesis_status_delay_ms,
            ..tarn_streams::StreamsConfig::default()
        },
    )
    .await?;
    // sealed records are opened by every reader (GetRecords, Firehose sources)
    streams.set_kms(kms.clone());
    let config = tarn_api::ApiConfig {
        region: args.region.clone(),
        base_domains: args.domains.clone(),
        audit_trail: args.audit_trail,
    };
    spawn_retention(streams.clone());
    let catalog = tarn_catalog::Catalog::open(store.clone(), &args.account_id).await?;
    catalog.ensure_default_database().await?;
    let engine = tarn_query::Engine::new(objects.clone(), catalog.clone())?;
    // transaction blocks a killed server left open roll back, before anyone is served
    let rolled_back = engine.recover_journals().await?;
    if rolled_back > 0 {
        tracing::info!(blocks = rolled_back, "rolled back transaction blocks left open by a stopped server");
    }
    // temporary tables of PostgreSQL sessions a stopped server left behind
    let leftovers = engine.drop_leftover_temporaries().await?;
    if leftovers > 0 {
        tracing::info!(tables = leftovers, "dropped temporary tables left by earlier sessions");
    }
    let athena = tarn_query::athena::Athena::open(engine.clone(), store.clone()).await?;
    let redshift_data = tarn_query::redshift_data::RedshiftData::open(&engine, args.data_dir.join("redshift-data"))?;
    let delivery = tarn_delivery::Delivery::open(
        store.clone(),
        objects.clone(),
        catalog.clone(),
        streams.clone(),
        kms.clone(),
        tarn_delivery::DeliveryConfig {
            region: args.region.clone(),
            account_id: args.account_id.clone(),
            activation_delay_ms: args.firehose_status_delay_ms,
        },
    )
    .await?;
    let crawlers = tarn_catalog::crawler::Crawlers::open(catalog, objects.clone()).await?;
    crawlers.set_iam(iam.clone());
    delivery.set_iam(iam.clone());
    tokio::spawn(crawlers.clone().run_scheduler());
    let audit = tarn_audit::Audit::open(store.clone(), &args.data_dir.join("audit"), &args.region).await?;
    tokio::spawn(
        audit.clone().run(objects.clone(), std::time::Duration::from_secs(args.cloudtrail_delivery_secs.max(1))),
    );
    let services = tarn_api::Services { objects, streams, crawlers, athena, delivery, redshift_data, kms, audit };
    let api = tarn_api::Api::new(services, iam.clone(), &config);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let local = listener.local_addr()?;
    let root = identities.root();
    match source {
        tarn_iam::KeySource::Environment => {
            println!("root credentials: from TARN_ROOT_ACCESS_KEY_ID / TARN_ROOT_SECRET_ACCESS_KEY")
        }
        tarn_iam::KeySource::Generated | tarn_iam::KeySource::DataDir => {
            let how = if source == tarn_iam::KeySource::Generated { "generated" } else { "loaded" };
            println!(
                "root credentials ({how}, kept in {}):",
                args.data_dir.join("keys/root-credentials.json").display()
            );
            println!("  export AWS_ACCESS_KEY_ID={}", root.access_key_id);
            println!("  export AWS_SECRET_ACCESS_KEY={}", root.secret_access_key);
        }
    }
    println!("  export AWS_ENDPOINT_URL=http://{local}");
    println!("  export AWS_DEFAULT_REGION={}", args.region);
    println!("tarn listening on http://{local} (data dir {})", args.data_dir.display());
    let tls = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(tls::Source::Files { cert: cert.clone(), key: key.clone() }),
        (_, _, true) => {
            Some(tls::Source::SelfSigned { keys_dir: args.data_dir.join("keys"), names: args.domains.clone() })
        }
        _ => None,
    };
    let tls = match tls {
        Some(source) => {
            let loaded = tls::load(&source)?;
            let how = if loaded.generated { "generated" } else { "loaded" };
            println!("TLS certificate ({how}, {}): SHA-256 {}", loaded.cert_path.display(), loaded.fingerprint);
            Some(loaded)
        }
        None if args.tls_listen.is_some() => {
            return Err("--tls-listen needs --tls-cert and --tls-key, or --tls-self-signed".into());
        }
        None => None,
    };
    let https = match (&tls, args.tls_listen) {
        (Some(loaded), Some(addr)) => {
            let acceptor = tls::acceptor(loaded, &[b"h2", b"http/1.1"])?;
            let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("--tls-listen {addr}: {e}"))?;
            println!("tarn listening on https://{} (AWS_CA_BUNDLE={})", l.local_addr()?, loaded.cert_path.display());
            Some((l, acceptor))
        }
        _ => None,
    };
    let pg_tls = tls.as_ref().map(|loaded| tls::acceptor(loaded, &[b"postgresql"])).transpose()?;
    // one signal stops every listener
    let (stop, _) = tokio::sync::watch::channel(false);
    let signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = signal.send(true);
    });
    let drain = Duration::from_millis(args.shutdown_drain_ms);
    let mut pg_server = None;
    if args.pg_listen != "off" {
        let pg_addr: SocketAddr = args.pg_listen.parse().map_err(|e| format!("--pg-listen {}: {e}", args.pg_listen))?;
        let pg = tokio::net::TcpListener::bind(pg_addr).await.map_err(|e| format!("--pg-listen {pg_addr}: {e}"))?;
        println!("  psql -h {} -p {} -U {} default", pg_addr.ip(), pg.local_addr()?.port(), root.access_key_id);
        let keys = iam.clone();
        let secrets: tarn_query::pg::SecretLookup =
            std::sync::Arc::new(move |key| keys.key(key).map(|(secret, _)| secret));
        // a session's statements read and write buckets as its user
        let users = iam.clone();
        let region = args.region.clone();
        let callers: tarn_query::pg::CallerLookup = std::sync::Arc::new(move |key, secure| {
            let (_, principal) = users.key(key)?;
            Some((!users.is_home_root(&principal)).then(|| {
                std::sync::Arc::new(tarn_query::engine::store::Caller {
                    iam: users.clone(),
                    principal,
                    secure,
                    region: region.clone(),
                })
            }))
        });
        pg_server = Some(tokio::spawn(tarn_query::pg::serve(
            pg,
            engine,
            secrets,
            callers,
            stopped(stop.subscribe()),
            drain,
            pg_tls,
        )));
    }
    let http = tarn_api::Shutdown { grace: Duration::from_millis(args.shutdown_grace_ms), drain };
    let https_server = https.map(|(l, acceptor)| {
        tokio::spawn(tarn_api::serve(l, api.clone(), stopped(stop.subscribe()), http, Some(acceptor)))
    });
    tarn_api::serve(listener, api, stopped(stop.subscribe()), http, None).await?;
    if let Some(s) = https_server {
        let _ = s.await;
    }
    if let Some(pg) = pg_server {
        let _ = pg.await;
    }
    tracing::info!("tarn stopped");
    Ok(())
}

/// Drops expired Kinesis records once a minute (whole segment files, on a blocking thread).
fn spawn_retention(streams: tarn_streams::Streams) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let streams = streams.clone();
            match tokio::task::spawn_blocking(move || streams.enforce_retention()).await {
                Ok(Ok(0)) => {}
                Ok(Ok(removed)) => tracing::info!(removed, "dropped expired stream segments"),
                Ok(Err(err)) => tracing::warn!(%err, "retention pass failed"),
                Err(err) => tracing::warn!(%err, "retention task failed"),
            }
        }
    });
}

/// Resolves once the shutdown signal has been sent (or its sender is gone).
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: health answers 503, then in-flight requests and queries drain");
}

#[cfg(test)]
mod tests {
    /// The option `keep_freed_memory` sets is mimalloc's purge delay: no other option has its
    /// default of 1000 ms.
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() || std::env::var_os("MIMALLOC_RESET_DELAY").is_some() {
            return;
        }
        // SAFETY: reading an option value has no preconditions
        let default = unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) };
        assert_eq!(default, 1000);
        super::keep_freed_memory();
        // SAFETY: as above
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) }, -1);
    }
}
