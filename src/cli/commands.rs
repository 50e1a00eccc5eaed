//! The operator's commands that do more than one call: serving, the demo seed, checks
//! against the platforms, the sweeper, key rotation, token listing.

use sqlx::PgPool;

use crate::config::AppConfig;
use crate::database::{migrate, schema_is_current};
use crate::state::AppState;

/// `inward simulate`: a platform's wire-compatible simulator, with no database.
pub(super) async fn simulate(
    platform: crate::providers::simulator::Platform,
    listen: String,
    faults: crate::providers::simulator::FaultConfig,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let credentials = match platform {
        crate::providers::simulator::Platform::Genesys => {
            "client id `sim-client`, secret `sim-secret`".to_string()
        }
        crate::providers::simulator::Platform::Cxone => {
            use crate::providers::simulator::cxone::{
                ACCESS_KEY_ID, ACCESS_KEY_SECRET, CLIENT_ID, CLIENT_SECRET,
            };
            format!(
                "access key `{ACCESS_KEY_ID}` / `{ACCESS_KEY_SECRET}`, client id `{CLIENT_ID}`, secret `{CLIENT_SECRET}`"
            )
        }
        crate::providers::simulator::Platform::Oidc => {
            use crate::providers::simulator::oidc::{CLIENT_ID, CLIENT_SECRET};
            format!("issuer http://{listen}, client id `{CLIENT_ID}`, secret `{CLIENT_SECRET}`")
        }
        crate::providers::simulator::Platform::Ringcx => {
            use crate::providers::simulator::ringcx::{ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET, JWT};
            format!(
                "jwt `{JWT}`, client id `{CLIENT_ID}`, secret `{CLIENT_SECRET}`, account id `{ACCOUNT_ID}`"
            )
        }
    };
    println!(
        "{platform:?} simulator on http://{} ({credentials})",
        listener.local_addr()?
    );
    crate::providers::simulator::serve(platform, listener, faults).await
}

pub(super) async fn serve(
    pool: PgPool,
    config: AppConfig,
    listen: Option<String>,
    apply: bool,
    allow_owner: bool,
) -> anyhow::Result<()> {
    if apply {
        migrate(&pool).await?;
    } else {
        schema_is_current(&pool).await?;
    }
    let (role, excess) = crate::roles::excess_rights(&pool).await?;
    anyhow::ensure!(
        allow_owner || excess.is_empty(),
        "inward serve is connected as {role}, which can change the schema ({}): a server with those rights could disable the audit log's protections. Run `inward db setup-roles` as a superuser, `inward migrate` as the owner role it creates, and serve as its runtime role (docs/operating.md, \"Database roles\"); or pass --allow-owner",
        excess.join(", ")
    );
    if !config.database.read_url.is_empty() {
        check_replica(&config, allow_owner).await?;
    }
    let addr = listen.unwrap_or_else(|| config.server.listen.clone());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (server.listen or --listen): {e}"))?;
    // Platform credentials and port-out PINs are sealed with the key; a server without
    // one would take them and fail later, so it does not start.
    anyhow::ensure!(
        !config.secrets.key.trim().is_empty(),
        "secrets.key is not set: set INWARD_SECRETS__KEY to 64 hex characters (openssl rand -hex 32); it seals platform credentials and port-out PINs, and must be the same on every instance"
    );
    println!("Inward is listening on http://{}", listener.local_addr()?);
    let metrics = match config.metrics.listen.as_str() {
        "" => None,
        addr => {
            let metrics = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (metrics.listen): {e}"))?;
            println!("metrics on http://{}/metrics", metrics.local_addr()?);
            Some(metrics)
        }
    };
    let state = AppState::new(pool, config);
    // Secrets sealed under a key now in `previous_keys`, or before they were bound to
    // their row, are sealed again once per start.
    tokio::spawn(crate::db_scope::bypassing(
        crate::db_scope::Bypass::Startup,
        reseal_on_start(state.clone()),
    ));
    crate::startup::serve_with_metrics(listener, metrics, state, shutdown_signal()).await?;
    Ok(())
}

/// The read replica answers, carries this binary's schema, and is reached as a role that
/// row-level security binds, as the primary is: searches and lists read from it.
async fn check_replica(config: &AppConfig, allow_owner: bool) -> anyhow::Result<()> {
    let options = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(
        &config.database.read_url,
    )?;
    let replica = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to database.read_url: {e}"))?;
    crate::database::schema_is_current(&replica)
        .await
        .map_err(|e| anyhow::anyhow!("database.read_url: {e}"))?;
    let (role, excess) = crate::roles::excess_rights(&replica).await?;
    replica.close().await;
    anyhow::ensure!(
        allow_owner || excess.is_empty(),
        "database.read_url connects as {role}, which can change the schema ({}): row-level security would not hold for searches and lists there. Name the runtime role in it, as in database.url; or pass --allow-owner",
        excess.join(", ")
    );
    Ok(())
}

pub(super) async fn seed_demo(
    pool: &PgPool,
    config: &AppConfig,
    per_exchange: Option<i32>,
) -> anyhow::Result<()> {
    migrate(pool).await?;
    let per_exchange = per_exchange.unwrap_or(config.sandbox.numbers_per_exchange);
    let added = crate::seed::demo(pool, per_exchange, None).await?;
    println!("demo data ready ({added} new numbers in sandbox stock)\n");
    println!(
        "Demo logins (password for all: {}):",
        crate::seed::DEMO_PASSWORD
    );
    for login in &crate::seed::DEMO_LOGINS {
        println!("  {:<24} {:<15} {}", login.email, login.role, login.org);
    }
    Ok(())
}

pub(super) async fn check_consistency(
    pool: PgPool,
    config: AppConfig,
    tenant: Option<String>,
) -> anyhow::Result<()> {
    let state = AppState::new(pool.clone(), config);
    let tenants = crate::tenants::ids_and_slugs(&pool, tenant.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    let (mut differences, mut checked) = (0, 0);
    for (id, slug) in tenants {
        let found = crate::drift::compare_tenant(&state, id)
            .await
            .map_err(|e| anyhow::anyhow!("{slug}: {}", e.public_message()))?;
        checked += found.compared;
        for d in &found.drift {
            println!(
                "{slug}\t{}\t{}\tInward: {}\tplatform: {}",
                d.number,
                d.class.as_str(),
                d.inward,
                d.platform
            );
        }
        differences += found.drift.len();
    }
    println!("{differences} difference(s) in {checked} number(s) checked");
    anyhow::ensure!(differences == 0, "Inward and the platforms disagree");
    Ok(())
}

pub(super) async fn rotate_secrets(pool: PgPool, config: AppConfig) -> anyhow::Result<()> {
    anyhow::ensure!(
        !config.secrets.key.trim().is_empty(),
        "secrets.key is not set: set INWARD_SECRETS__KEY to the new key and INWARD_SECRETS__PREVIOUS_KEYS to the old one"
    );
    let state = AppState::new(pool, config);
    let connections = crate::connections::sealing::reseal_all(&state)
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    let pins = crate::porting::reseal_pins(&state)
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    let plaintext = crate::porting::seal_plaintext_pins(&state)
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    let webhooks = crate::webhooks::sealing::reseal_all(&state)
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    let providers = crate::sso::sealing::reseal_all(&state)
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    println!(
        "{}",
        serde_json::json!({ "connections": connections, "port_pins": pins, "plaintext_pins_sealed": plaintext, "webhooks": webhooks, "identity_providers": providers })
    );
    anyhow::ensure!(
        connections.unreadable.is_empty()
            && pins.unreadable.is_empty()
            && webhooks.unreadable.is_empty()
            && providers.unreadable.is_empty(),
        "these open with none of the configured keys: connections {:?}, port requests {:?}, webhook endpoints {:?}, identity providers {:?}",
        connections.unreadable,
        pins.unreadable,
        webhooks.unreadable,
        providers.unreadable
    );
    Ok(())
}

pub(super) async fn reconcile(
    pool: PgPool,
    config: AppConfig,
    tenant: Option<String>,
) -> anyhow::Result<()> {
    schema_is_current(&pool).await?;
    let state = AppState::new(pool.clone(), config);
    let tenants = crate::tenants::ids_and_slugs(&pool, tenant.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    let mut failed = Vec::new();
    for (id, slug) in tenants {
        match crate::drift::reconcile_tenant(&state, id).await {
            Ok(run) => println!(
                "{}",
                serde_json::json!({ "tenant": slug, "compared": run.compared, "differences": run.counts, "orphaned": run.orphaned, "duration_ms": run.duration_ms })
            ),
            Err(e) => {
                eprintln!("{slug}: {}", e.public_message());
                failed.push(slug);
            }
        }
    }
    anyhow::ensure!(
        failed.is_empty(),
        "these tenants' platforms could not be read: {}",
        failed.join(", ")
    );
    Ok(())
}

pub(super) async fn sweep(pool: PgPool, config: AppConfig, orphans: bool) -> anyhow::Result<()> {
    let state = AppState::new(pool, config);
    let report = crate::jobs::run_once(&state).await;
    if orphans {
        let checked = crate::jobs::orphans::run_once(&state)
            .await
            .map_err(|e| anyhow::anyhow!("the orphan check failed: {}", e.public_message()))?;
        println!(
            "{}",
            serde_json::json!({ "jobs": report, "orphans": checked })
        );
    } else {
        println!("{}", serde_json::to_string(&report)?);
    }
    anyhow::ensure!(
        report.failed.is_empty(),
        "these steps failed (see the log above): {}",
        report.failed.join(", ")
    );
    Ok(())
}

pub(super) async fn list_tokens(pool: &PgPool, email: Option<&str>) -> anyhow::Result<()> {
    for t in crate::auth::tokens::list_all(pool, email).await? {
        let day = |d: Option<chrono::DateTime<chrono::Utc>>| {
            d.map_or("never".to_string(), |d| {
                d.format("%Y-%m-%d %H:%M").to_string()
            })
        };
        println!(
            "{}  {:<28} {:<24} made {}  used {}  expires {}",
            t.id,
            t.user_email,
            t.name,
            t.created_at.format("%Y-%m-%d %H:%M"),
            day(t.last_used_at),
            day(t.expires_at)
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

async fn reseal_on_start(state: AppState) {
    let connections = crate::connections::sealing::reseal_all(&state).await;
    let pins = crate::porting::reseal_pins(&state).await;
    match (connections, pins) {
        (Ok(c), Ok(p))
            if c.resealed + p.resealed > 0
                || !c.unreadable.is_empty()
                || !p.unreadable.is_empty() =>
        {
            tracing::warn!(
                connections_resealed = c.resealed,
                pins_resealed = p.resealed,
                connections_unreadable = ?c.unreadable,
                pins_unreadable = ?p.unreadable,
                "stored secrets sealed again under secrets.key"
            )
        }
        (Ok(_), Ok(_)) => {}
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "sealing stored secrets again failed; `inward secrets rotate` does it")
        }
    }
    match crate::sso::sealing::reseal_all(&state).await {
        Ok(p) if p.resealed > 0 || !p.unreadable.is_empty() => tracing::warn!(
            resealed = p.resealed,
            unreadable = ?p.unreadable,
            "identity provider secrets sealed again under secrets.key"
        ),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "sealing identity provider secrets again failed; `inward secrets rotate` does it")
        }
    }
    match crate::webhooks::sealing::reseal_all(&state).await {
        Ok(w) if w.resealed > 0 || !w.unreadable.is_empty() => tracing::warn!(
            resealed = w.resealed,
            unreadable = ?w.unreadable,
            "webhook secrets sealed again under secrets.key"
        ),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "sealing webhook secrets again failed; `inward secrets rotate` does it")
        }
    }
}
