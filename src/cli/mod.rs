//! `inward` subcommands.

use clap::{Parser, Subcommand};
use sqlx::PgPool;

use crate::config::AppConfig;
use crate::database::{connect_logging, migrate};

mod admin;
mod commands;
use commands::{check_consistency, reconcile, rotate_secrets, seed_demo, serve, simulate, sweep};

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
        /// Concurrent HTTP clients (comma-separated: the limits scenario measures at each,
        /// the others at the largest).
        #[arg(long, value_delimiter = ',', default_value = "64")]
        clients: Vec<usize>,
        /// Measured seconds per scenario (after one second of warm-up).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Run only these scenarios (comma-separated: limits, explain, search, holds, fight,
        /// pages, memory, machinery); all but limits and machinery by default.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// The role the benchmarked server connects as (e.g. `inward_runtime`, set up with
        /// `inward db setup-roles`, so that row-level security applies); the preparation
        /// always uses DATABASE_URL's role.
        #[arg(long)]
        server_role: Option<String>,
        /// With `--only machinery`: only these mechanisms, by their `[tuning]` keys
        /// (comma-separated); all by default.
        #[arg(long, value_delimiter = ',')]
        mechanism: Vec<String>,
        /// Print the limits scenario's figures as one JSON object (the rest goes to standard
        /// error); runs that scenario alone unless --only names others.
        #[arg(long)]
        json: bool,
        /// Rows the limits scenario uploads beside a bare COPY (0: no upload).
        #[arg(long, default_value_t = 1_000_000)]
        upload_rows: usize,
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
        return simulate(platform, listen, faults).await;
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
        Command::Db { command } => admin::db(&pool, command).await?,
        Command::SeedDemo { per_exchange } => seed_demo(&pool, &config, per_exchange).await?,
        Command::Serve {
            listen,
            migrate: apply,
            allow_owner,
        } => serve(pool, config, listen, apply, allow_owner).await?,
        Command::Orgs { command } => admin::orgs(&pool, command).await?,
        Command::Users { command } => admin::users(&pool, command).await?,
        Command::Tokens { command } => admin::tokens(&pool, command).await?,
        Command::Sandbox { command } => admin::sandbox(&pool, command).await?,
        // Served above, before any database connection is made.
        Command::Simulate { .. } => {}
        Command::Bench {
            numbers,
            clients,
            seconds,
            only,
            server_role,
            mechanism,
            json,
            upload_rows,
            ..
        } => {
            let options = crate::bench::Options {
                numbers,
                clients: clients.iter().copied().max().unwrap_or(64).max(1),
                client_counts: clients,
                json,
                upload_rows,
                seconds,
                only,
                server_role,
                mechanisms: mechanism,
            };
            crate::bench::run(config, options).await?
        }
        Command::BenchUpload { rows, hostile, .. } => {
            migrate(&pool).await?;
            if hostile {
                crate::inventory::bench::run_hostile(&pool).await?;
            } else {
                crate::inventory::bench::run(&pool, rows).await?;
            }
        }
        Command::CheckConsistency { tenant } => check_consistency(pool, config, tenant).await?,
        Command::Audit { command } => audit_command(&pool, command).await?,
        Command::Secrets {
            command: SecretsCommand::Rotate,
        } => rotate_secrets(pool, config).await?,
        Command::Reconcile { tenant } => reconcile(pool, config, tenant).await?,
        Command::Sweep { orphans } => sweep(pool, config, orphans).await?,
    }
    Ok(())
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
            // Everything written so far is sealed, so that the export reaches it.
            chain::seal_pending(pool).await?;
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
