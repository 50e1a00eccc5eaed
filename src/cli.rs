//! `inward` subcommands.

use std::io::Read;

use clap::{Parser, Subcommand};
use sqlx::PgPool;

use crate::config::AppConfig;
use crate::database::{connect_logging, migrate, schema_is_current};
use crate::domain::policy::{OrgKind, Role};
use crate::state::AppState;

#[derive(Debug, Parser)]
#[command(
    name = "inward",
    version,
    about = "Self-service portal for DID phone numbers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply database migrations (creates the `operator` organization). Run it as the schema
    /// owner's role (see `inward db setup-roles`).
    Migrate,
    /// Set up the database's roles.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Load the demo: a reseller, two tenants, users, routing targets and sandbox stock.
    SeedDemo {
        /// Numbers generated per NPA-NXX (default from config `sandbox.numbers_per_exchange`).
        #[arg(long)]
        per_exchange: Option<i32>,
    },
    /// Run the web server and the background jobs.
    Serve {
        #[arg(long)]
        listen: Option<String>,
        /// Apply pending migrations first (as `inward migrate` does). Without it, a database
        /// that is not at this binary's schema is refused. Needs the owner's role, and so
        /// `--allow-owner`.
        #[arg(long)]
        migrate: bool,
        /// Serve even when connected as a role that can change the schema (a superuser or
        /// the schema's owner), which could then disable the audit log's protections.
        #[arg(long)]
        allow_owner: bool,
    },
    /// Manage organizations.
    Orgs {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage users.
    Users {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Tokens {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Sandbox provider controls for demos and tests.
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// Run the background jobs once and print what they did.
    Sweep {
        /// Also run the orphan check (every routed number's target looked up on its
        /// platform, orphans past the grace period deprovisioned), whatever its interval.
        #[arg(long)]
        orphans: bool,
    },
    /// Compare every number Inward routes or offers with what its tenant's platform
    /// routes; print each difference and exit non-zero when there is any.
    CheckConsistency {
        /// Only this tenant (its slug).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Reconcile now: read each tenant's platform DID by DID, compare it with Inward, and
    /// keep the differences for the Drift page (as the hourly job does); prints one line of
    /// JSON per tenant with its counts per class.
    Reconcile {
        /// Only this tenant (its slug).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Seal every stored secret again under `secrets.key` (after a rotation, with the old key
    /// in `secrets.previous_keys`); prints what was done and exits non-zero when a secret
    /// opens with none of the keys.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Check and export the tamper-evident audit chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Serve a wire-compatible fake of a platform's API, with fault injection.
    Simulate {
        #[arg(long, value_enum)]
        platform: crate::providers::simulator::Platform,
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: String,
        #[command(flatten)]
        faults: crate::providers::simulator::FaultConfig,
    },
    /// Benchmark against the database in DATABASE_URL (fills it with generated numbers).
    Bench {
        /// Inventory size to generate (skipped when the database already holds this many).
        #[arg(long, default_value_t = 10_000_000)]
        numbers: i64,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Measured seconds per scenario (after one second of warm-up).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Run only these scenarios (comma-separated: explain, search, holds, fight, pages,
        /// memory); all of them by default.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// The role the benchmarked server connects as (e.g. `inward_runtime`, set up with
        /// `inward db setup-roles`, so that row-level security applies); the preparation
        /// always uses DATABASE_URL's role.
        #[arg(long)]
        server_role: Option<String>,
        /// Run against a database whose name does not start with `bench`.
        #[arg(long)]
        destroy_data: bool,
    },
    /// Benchmark: generate an inventory CSV, upload it through the upload code path, print
    /// rows per second and peak memory.
    BenchUpload {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        /// Upload files built to exhaust memory instead, and print the peak after each.
        #[arg(long)]
        hostile: bool,
        /// Run against a database whose name does not start with `bench`.
        #[arg(long)]
        destroy_data: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Seal platform credentials and port-out PINs again under the current key.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit chain and report its first break (a missing, altered or forged
    /// entry); exits non-zero when it is broken.
    Verify {
        /// Start at this sequence number, trusting the seal before it.
        #[arg(long, default_value_t = 1)]
        from: i64,
        /// Verify an export (`inward audit export`) instead of the database.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Write the chain's entries `--from`..`--to` as JSON lines that verify on their own.
    Export {
        #[arg(long, default_value_t = 1)]
        from: i64,
        /// Last sequence number (default: the head).
        #[arg(long)]
        to: Option<i64>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    Add {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        parent: String,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the owner and runtime roles and give this database to them: the owner owns the
    /// schema (run `inward migrate` as it), the runtime role may only read and write rows (run
    /// `inward serve` and the other commands as it). Connect as a superuser. Idempotent.
    SetupRoles {
        #[arg(long, default_value = crate::roles::DEFAULT_OWNER)]
        owner: String,
        #[arg(long, default_value = crate::roles::DEFAULT_RUNTIME)]
        runtime: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// The password is read from standard input.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Prints a new API token once; only its hash is stored.
    Create {
        #[arg(long)]
        email: String,
        /// What uses it (1 to 64 characters).
        #[arg(long, default_value = "CLI")]
        name: String,
        /// Days until it expires (1 to 3650); never, without it.
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// Lists API tokens (all, or one user's): id, user, name, made, last used, expiry.
    List {
        #[arg(long)]
        email: Option<String>,
    },
    /// Revokes an API token at once (its id, from `tokens list`).
    Revoke {
        #[arg(long)]
        id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Make the next N calls of an operation fail (reserve, release, assign, unassign,
    /// ensure_target, cnam, e911, port; assign_answer: the assignment is made, its answer lost).
    Fail {
        #[arg(long)]
        operation: String,
        #[arg(long, default_value_t = 1)]
        times: i32,
        #[arg(long, default_value = "injected failure")]
        message: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // The server gives each request its caller's scope; the other commands are the
    // operator's own and work on every organization's rows.
    if matches!(
        cli.command,
        Command::Serve { .. } | Command::Simulate { .. }
    ) {
        return run_command(cli).await;
    }
    crate::db_scope::bypassing(crate::db_scope::Bypass::Cli, run_command(cli)).await
}

async fn run_command(cli: Cli) -> anyhow::Result<()> {
    if let Command::Simulate {
        platform,
        listen,
        faults,
    } = cli.command
    {
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
            crate::providers::simulator::Platform::Ringcx => {
                use crate::providers::simulator::ringcx::{
                    ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET, JWT,
                };
                format!(
                    "jwt `{JWT}`, client id `{CLIENT_ID}`, secret `{CLIENT_SECRET}`, account id `{ACCOUNT_ID}`"
                )
            }
        };
        println!(
            "{platform:?} simulator on http://{} ({credentials})",
            listener.local_addr()?
        );
        return crate::providers::simulator::serve(platform, listener, faults).await;
    }
    let config = AppConfig::load()?;
    if let Command::Bench { destroy_data, .. } | Command::BenchUpload { destroy_data, .. } =
        &cli.command
    {
        crate::bench::refuse_unless_bench_database(&config.database.url, *destroy_data)?;
    }
    // The demo seed's bulk INSERT is slow by design: a warning that prints the whole
    // statement helps nobody.
    let slow = match cli.command {
        Command::SeedDemo { .. } => log::LevelFilter::Debug,
        _ => log::LevelFilter::Warn,
    };
    let pool = connect_logging(&config, slow).await?;
    match cli.command {
        Command::Migrate => {
            migrate(&pool).await?;
            println!("migrations applied");
        }
        Command::Db {
            command: DbCommand::SetupRoles { owner, runtime },
        } => {
            let mut conn = pool.acquire().await?;
            for line in crate::roles::setup(&mut conn, &owner, &runtime).await? {
                println!("{line}");
            }
            println!(
                "next: run `inward migrate` as {owner} and everything else as {runtime} (set passwords with ALTER ROLE … PASSWORD where the server asks for them)"
            );
        }
        Command::SeedDemo { per_exchange } => {
            migrate(&pool).await?;
            let per_exchange = per_exchange.unwrap_or(config.sandbox.numbers_per_exchange);
            let added = crate::seed::demo(&pool, per_exchange, None).await?;
            println!("demo data ready ({added} new numbers in sandbox stock)\n");
            println!(
                "Demo logins (password for all: {}):",
                crate::seed::DEMO_PASSWORD
            );
            for login in &crate::seed::DEMO_LOGINS {
                println!("  {:<24} {:<15} {}", login.email, login.role, login.org);
            }
        }
        Command::Serve {
            listen,
            migrate: apply,
            allow_owner,
        } => {
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
            let addr = listen.unwrap_or_else(|| config.server.listen.clone());
            let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on {addr} (server.listen or --listen): {e}")
            })?;
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
                    let metrics = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                        anyhow::anyhow!("cannot listen on {addr} (metrics.listen): {e}")
                    })?;
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
        }
        Command::Orgs {
            command:
                OrgCommand::Add {
                    kind,
                    parent,
                    slug,
                    name,
                },
        } => {
            let kind: OrgKind = kind.parse().map_err(anyhow::Error::msg)?;
            let id = crate::admin::add_org(&pool, kind, &parent, &slug, &name).await?;
            println!("{} `{slug}` created ({id})", kind.as_str());
        }
        Command::Users {
            command: UserCommand::Add { org, role, email },
        } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let id = crate::admin::add_user(&pool, &org, role, &email, password).await?;
            println!("user {email} created ({id})");
        }
        Command::Tokens {
            command:
                TokenCommand::Create {
                    email,
                    name,
                    expires_in_days,
                },
        } => {
            let new = crate::auth::tokens::NewToken::parse(&name, expires_in_days)
                .map_err(|e| anyhow::anyhow!(e.public_message()))?;
            let token = crate::admin::create_named_token(&pool, &email, &new).await?;
            println!("{token}");
            eprintln!("Store this token now: it cannot be shown again.");
        }
        Command::Tokens {
            command: TokenCommand::List { email },
        } => {
            for t in crate::auth::tokens::list_all(&pool, email.as_deref()).await? {
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
        }
        Command::Tokens {
            command: TokenCommand::Revoke { id },
        } => {
            let revoked = crate::auth::tokens::revoke_any(&pool, id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no API token with id {id}"))?;
            println!("revoked “{}” of {}", revoked.name, revoked.user_email);
        }
        Command::Sandbox {
            command:
                SandboxCommand::Fail {
                    operation,
                    times,
                    message,
                },
        } => {
            crate::providers::sandbox::Sandbox::inject_fault(&pool, &operation, times, &message)
                .await?;
            println!("the next {times} sandbox `{operation}` call(s) will fail");
        }
        // Served above, before any database connection is made.
        Command::Simulate { .. } => {}
        Command::Bench {
            numbers,
            clients,
            seconds,
            only,
            server_role,
            ..
        } => {
            let options = crate::bench::Options {
                numbers,
                clients,
                seconds,
                only,
                server_role,
            };
            crate::bench::run(config, options).await?;
        }
        Command::BenchUpload { rows, hostile, .. } => {
            migrate(&pool).await?;
            if hostile {
                crate::inventory::bench::run_hostile(&pool).await?;
            } else {
                crate::inventory::bench::run(&pool, rows).await?;
            }
        }
        Command::CheckConsistency { tenant } => {
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
        }
        Command::Audit { command } => audit_command(&pool, command).await?,
        Command::Secrets {
            command: SecretsCommand::Rotate,
        } => {
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
            println!(
                "{}",
                serde_json::json!({ "connections": connections, "port_pins": pins, "plaintext_pins_sealed": plaintext })
            );
            anyhow::ensure!(
                connections.unreadable.is_empty() && pins.unreadable.is_empty(),
                "these open with none of the configured keys: connections {:?}, port requests {:?}",
                connections.unreadable,
                pins.unreadable
            );
        }
        Command::Reconcile { tenant } => {
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
        }
        Command::Sweep { orphans } => {
            let state = AppState::new(pool, config);
            let report = crate::jobs::run_once(&state).await;
            if orphans {
                let checked = crate::jobs::orphans::run_once(&state).await.map_err(|e| {
                    anyhow::anyhow!("the orphan check failed: {}", e.public_message())
                })?;
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
        }
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

async fn audit_command(pool: &PgPool, command: AuditCommand) -> anyhow::Result<()> {
    use crate::audit::chain;
    match command {
        AuditCommand::Verify { from, file } => {
            let outcome = match file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    chain::verify_export(&text)?
                }
                None => {
                    let outcome = chain::verify(pool, from, None).await?;
                    chain::record(pool, &outcome).await?;
                    outcome
                }
            };
            match outcome {
                Ok(v) => println!(
                    "{}",
                    serde_json::json!({ "ok": true, "verified_to": v.verified_to, "head": chain::hex(&v.head) })
                ),
                Err(b) => {
                    println!(
                        "{}",
                        serde_json::json!({ "ok": false, "broken_at": b.seq, "problem": b.problem })
                    );
                    anyhow::bail!("the audit chain is broken at seal {}: {}", b.seq, b.problem);
                }
            }
        }
        AuditCommand::Export { from, to, out } => {
            let to = match to {
                Some(to) => to,
                None => chain::head(pool).await?.0,
            };
            let written = match out {
                Some(path) => {
                    let mut file = std::io::BufWriter::new(
                        std::fs::File::create(&path)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                    );
                    let n = chain::export(pool, from, to, &mut file).await?;
                    std::io::Write::flush(&mut file)?;
                    n
                }
                None => chain::export(pool, from, to, &mut std::io::stdout().lock()).await?,
            };
            eprintln!("{written} entries exported ({from}..{to})");
        }
    }
    Ok(())
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
}
