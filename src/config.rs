//! Layered settings: built-in defaults, then the file named by INWARD_CONFIG, then
//! INWARD_* environment variables, then DATABASE_URL.
//! One file over 500 lines: every setting, its default and its check are read together; a
//! fifth of it is their unit tests.

use std::fmt;
use std::net::ToSocketAddrs;

use serde::Deserialize;

use crate::domain::pricing::PricingConfig;
use crate::domain::search::Limits;
use crate::secrets::SecretBox;

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub holds: HoldsConfig,
    pub search: SearchConfig,
    pub pricing: PricingConfig,
    pub provider: ProviderConfig,
    pub sandbox: SandboxConfig,
    pub secrets: SecretsConfig,
    pub providers: ProvidersConfig,
    pub outbound: OutboundConfig,
    pub porting: PortingConfig,
    pub metrics: MetricsConfig,
    pub orphans: OrphansConfig,
    pub reconcile: ReconcileConfig,
    pub mail: MailConfig,
    pub inventory: InventoryConfig,
    pub sagas: SagasConfig,
    pub idempotency: IdempotencyConfig,
    pub audit: AuditConfig,
    pub tuning: TuningConfig,
    pub rate_limits: RateLimitsConfig,
    pub webhooks: WebhooksConfig,
    pub sso: SsoConfig,
}

/// API requests a minute per user (all of the user's tokens and sessions together), by role,
/// counted on each instance; 0 leaves a role unlimited.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsConfig {
    pub operator_per_minute: u32,
    pub reseller_admin_per_minute: u32,
    pub tenant_admin_per_minute: u32,
    pub tenant_user_per_minute: u32,
    /// A user may send this many seconds' worth of the limit at once.
    pub burst_seconds: u32,
}

impl RateLimitsConfig {
    pub fn per_minute(&self, role: crate::domain::policy::Role) -> u32 {
        use crate::domain::policy::Role;
        match role {
            Role::Operator => self.operator_per_minute,
            Role::ResellerAdmin => self.reseller_admin_per_minute,
            Role::TenantAdmin => self.tenant_admin_per_minute,
            Role::TenantUser => self.tenant_user_per_minute,
        }
    }

    /// No limit for anyone: for benchmarks, which measure what the server can do.
    pub fn unlimited() -> Self {
        RateLimitsConfig {
            operator_per_minute: 0,
            reseller_admin_per_minute: 0,
            tenant_admin_per_minute: 0,
            tenant_user_per_minute: 0,
            burst_seconds: 1,
        }
    }
}

/// Signing in through identity providers (`sso`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoConfig {
    /// The address users reach Inward at (`https://inward.example.com`), which identity
    /// providers send them back to; empty: the address the browser used.
    pub public_url: String,
    /// How long a provider's discovery document and keys are kept before being fetched again
    /// (a token signed by a key not among them fetches them at once).
    pub discovery_cache_seconds: u64,
}

/// Delivering webhooks (`webhooks::dispatch`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// How often each instance looks for deliveries that are due.
    pub poll_interval_ms: u64,
    /// Deliveries one instance sends at once.
    pub concurrency: usize,
    /// How long a receiver may take to answer.
    pub timeout_seconds: u64,
    /// A dispatcher's claim on a delivery: one that dies while sending leaves it to another
    /// instance after this long.
    pub lease_seconds: u64,
    /// The wait after a delivery's first failure, doubled after each further one, up to
    /// `retry_cap_ms`; each wait is jittered over its upper half.
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    /// A delivery still failing this long after its event is marked failed.
    pub give_up_after_hours: u64,
    /// An endpoint whose attempts failed this many times in a row is disabled and its admins
    /// told; 0 never disables.
    pub disable_after_failures: u32,
    /// Events (and their deliveries) are kept this many days once nothing is pending.
    pub retention_days: i64,
}

impl WebhooksConfig {
    fn check(&self) -> anyhow::Result<()> {
        let w = self;
        anyhow::ensure!(
            w.poll_interval_ms >= 10
                && (1..=256).contains(&w.concurrency)
                && (1..=120).contains(&w.timeout_seconds)
                && w.lease_seconds > w.timeout_seconds
                && w.retry_base_ms >= 1
                && (1..=720).contains(&w.give_up_after_hours)
                && (1..=3650).contains(&w.retention_days),
            "webhooks: poll_interval_ms ≥ 10, concurrency 1 to 256, timeout_seconds 1 to 120, lease_seconds above timeout_seconds, retry_base_ms ≥ 1, give_up_after_hours 1 to 720, retention_days 1 to 3650"
        );
        Ok(())
    }

    pub fn retry(&self) -> crate::domain::webhook::Retry {
        use std::time::Duration;
        crate::domain::webhook::Retry {
            base: Duration::from_millis(self.retry_base_ms.max(1)),
            cap: Duration::from_millis(self.retry_cap_ms.max(self.retry_base_ms).max(1)),
            give_up_after: Duration::from_secs(self.give_up_after_hours * 3600),
        }
    }
}

/// The performance mechanisms, each on unless switched off. `inward bench --only machinery`
/// measures what each is worth by running its benchmark with and without it; off is for
/// that comparison (docs/performance.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuningConfig {
    /// Searches run on pools of their own, the stock's with its scope set at connect.
    pub search_pools: bool,
    /// Holds, their references and the sandbox's reservations batched across requests.
    pub group_commit: bool,
    /// The common reservation as one statement beside the full path.
    pub one_statement_hold: bool,
    /// SEARCH entries written behind the request, in batches.
    pub deferred_search_audit: bool,
    /// Callers and tenants' adapters cached per instance.
    pub caches: bool,
    /// Validated codes (country, state, area code, exchange) written into the search SQL.
    pub inline_codes: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// How long SEARCH events are kept (the audit log itself is kept for good: it is
    /// hash-chained).
    pub search_retention_days: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// How long an Idempotency-Key and its answer are kept.
    pub key_ttl_hours: i64,
}

/// Provisioning sagas (see `reservations::saga_lease`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SagasConfig {
    /// How long a saga may go unheard before recovery takes its attempt over.
    pub lease_seconds: i64,
}

/// Inventory upload jobs (swept by the background jobs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryConfig {
    /// An unfinished upload with no progress for this long (a server crashed under it) is
    /// marked failed and its staging rows deleted.
    pub upload_stale_minutes: i64,
    /// Staging rows of finished uploads (and validated uploads nobody imported) are deleted
    /// after this long; the rejected-rows download then answers an empty file.
    pub staging_retention_hours: i64,
    /// The longest row an upload may hold, in KiB; a longer one refuses the file, naming it.
    pub max_record_kib: usize,
    /// The largest upload, in MiB; a larger body is cut off there with 413.
    pub max_upload_mib: usize,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// 64 hex characters; encrypts platform credentials at rest.
    pub key: String,
    /// Earlier keys, still accepted for opening what they sealed until it is sealed again
    /// under `key` (`inward secrets rotate`).
    #[serde(default)]
    pub previous_keys: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersConfig {
    /// How long the provision form's list of routing targets is reused; 0 turns it off.
    pub targets_cache_seconds: u64,
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_retry_wait_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where `/metrics` is served: empty, on the main listener; an address, there only.
    pub listen: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortingConfig {
    /// A port request's numbers still in draft after this many days are cancelled.
    pub draft_expiry_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// Hosts (`host` or `host:port`) platform calls may reach besides the platforms' own.
    pub allow_hosts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrphansConfig {
    pub check_interval_seconds: i64,
    pub grace_days: i64,
}

/// Reconciliation of each tenant's numbers with its platform (`drift`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileConfig {
    /// How often it runs, once across all instances.
    pub interval_seconds: i64,
}

/// Outgoing email. With no `smtp_host`, mail is written to the log instead of sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub from: String,
    /// How long the relay may take over one email.
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub secure_cookies: bool,
    pub session_hours: i64,
    /// A connection that has not sent a whole request head within this long (a slow or idle
    /// client holding a socket) is closed.
    pub header_read_timeout_seconds: u64,
    /// A request whose body sends nothing for this long is ended.
    pub body_stall_seconds: u64,
    /// Sign-in attempts one client address may make at once, then per minute.
    pub sign_in_burst_per_address: u32,
    pub sign_ins_per_address_per_minute: u32,
    /// The header the load balancer puts the client's address in (its last entry is
    /// taken); empty when clients connect directly.
    pub client_address_header: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    /// A second, smaller pool for searches (see `state::search_pool`).
    pub search_connections: u32,
    /// A streaming replica of `url` (empty: none). Searches and list pages read from it,
    /// except a caller's own within `read_your_writes_seconds` of a change they made
    /// (see `reads`).
    pub read_url: String,
    pub read_your_writes_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldsConfig {
    pub ttl_seconds: i64,
    pub sweep_interval_seconds: u64,
    pub max_numbers_per_reservation: usize,
    /// Most numbers one order by quantity may hold (Inward picks them).
    pub max_numbers_per_order: usize,
    /// Hard cap on how long a hold waits for a premium approval.
    pub premium_approval_max_wait_seconds: i64,
    /// Extensions give the hold time again, up to this long from when the hold was taken.
    pub max_hold_seconds: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    pub local_default_limit: i64,
    pub toll_free_default_limit: i64,
    pub max_limit: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    pub slow_activation_states: Vec<String>,
    pub activation_delay_seconds: i64,
    pub numbers_per_exchange: i32,
    /// How long the sandbox's CNAM database takes to answer a change.
    pub cnam_delay_seconds: i64,
    /// How long the sandbox's 911 provider takes to register an address.
    pub e911_delay_seconds: i64,
    /// The sandbox's accelerated porting clock, from submission: carrier acknowledgement,
    /// FOC date set, FOC date reached (the number moves).
    pub port_ack_seconds: i64,
    pub port_foc_seconds: i64,
    pub port_complete_seconds: i64,
}

impl SearchConfig {
    pub fn limits(&self) -> Limits {
        Limits {
            local_default: self.local_default_limit,
            toll_free_default: self.toll_free_default_limit,
            max: self.max_limit,
        }
    }
}

impl AppConfig {
    pub fn load() -> anyhow::Result<Self> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Ok(path) = std::env::var("INWARD_CONFIG") {
            builder = builder.add_source(config::File::with_name(&path));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("INWARD")
                .prefix_separator("_")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("sandbox.slow_activation_states")
                .with_list_parse_key("pricing.premium.words")
                .with_list_parse_key("outbound.allow_hosts")
                .with_list_parse_key("secrets.previous_keys")
                .try_parsing(true)
                .source(Some(setting_variables(std::env::vars()))),
        );
        if let Ok(url) = std::env::var("DATABASE_URL") {
            builder = builder.set_override("database.url", url)?;
        }
        let config: AppConfig = builder
            .build()?
            .try_deserialize()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        config.check()?;
        Ok(config)
    }

    /// The built-in defaults alone, for tests that then adjust fields.
    pub fn defaults() -> Self {
        let config = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize::<AppConfig>());
        match config {
            Ok(config) => config,
            Err(err) => panic!("config/default.toml is invalid: {err}"),
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        crate::outbound::Allowlist::parse(&self.outbound.allow_hosts)
            .map_err(|e| anyhow::anyhow!(e))?;
        anyhow::ensure!(
            self.server.header_read_timeout_seconds >= 1 && self.server.body_stall_seconds >= 1,
            "server.header_read_timeout_seconds and server.body_stall_seconds must be at least 1"
        );
        anyhow::ensure!(
            self.server.sign_in_burst_per_address >= 1
                && self.server.sign_ins_per_address_per_minute >= 1,
            "server.sign_in_burst_per_address and server.sign_ins_per_address_per_minute must be at least 1"
        );
        self.webhooks.check()?;
        anyhow::ensure!(
            self.database.read_url.is_empty()
                || (url::Url::parse(&self.database.read_url)
                    .is_ok_and(|u| matches!(u.scheme(), "postgres" | "postgresql"))
                    && <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(
                        &self.database.read_url
                    )
                    .is_ok()),
            "database.read_url must be empty or a postgres:// URL"
        );
        anyhow::ensure!(
            self.sso.public_url.is_empty()
                || url::Url::parse(&self.sso.public_url)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()),
            "sso.public_url must be empty or an http(s) address"
        );
        anyhow::ensure!(
            (1..=3_600).contains(&self.rate_limits.burst_seconds),
            "rate_limits.burst_seconds must be 1 to 3600"
        );
        anyhow::ensure!(
            (1..=36_500).contains(&self.porting.draft_expiry_days),
            "porting.draft_expiry_days must be 1 to 36500"
        );
        anyhow::ensure!(
            self.inventory.max_record_kib >= 1 && self.inventory.max_upload_mib >= 1,
            "inventory.max_record_kib and inventory.max_upload_mib must be at least 1"
        );
        if !self.metrics.listen.is_empty() {
            self.metrics.listen.to_socket_addrs().map_err(|e| {
                anyhow::anyhow!(
                    "metrics.listen (INWARD_METRICS__LISTEN) `{}` is not an address to listen on: {e}",
                    self.metrics.listen
                )
            })?;
        }
        anyhow::ensure!(
            self.holds.ttl_seconds > 0,
            "holds.ttl_seconds must be positive"
        );
        anyhow::ensure!(
            self.holds.max_hold_seconds >= self.holds.ttl_seconds,
            "holds.max_hold_seconds must be at least holds.ttl_seconds"
        );
        anyhow::ensure!(
            self.holds.max_numbers_per_reservation > 0
                && (1..=100_000).contains(&self.holds.max_numbers_per_order),
            "holds.max_numbers_per_reservation must be positive, holds.max_numbers_per_order 1 to 100000"
        );
        anyhow::ensure!(
            self.idempotency.key_ttl_hours > 0,
            "idempotency.key_ttl_hours must be positive"
        );
        anyhow::ensure!(
            self.sagas.lease_seconds >= 3,
            "sagas.lease_seconds must be at least 3 (the lease is renewed every third of it)"
        );
        anyhow::ensure!(
            self.audit.search_retention_days > 0,
            "audit.search_retention_days must be positive"
        );
        anyhow::ensure!(
            self.search.max_limit > 0,
            "search.max_limit must be positive"
        );
        SecretBox::from_keys(&self.secrets.key, &self.secrets.previous_keys).map_err(
            |e| match e {
                crate::secrets::SecretError::BadPreviousKey => {
                    anyhow::anyhow!("secrets.previous_keys: {e}")
                }
                _ => anyhow::anyhow!("secrets.key: {e}"),
            },
        )?;
        self.server.listen.to_socket_addrs().map_err(|e| {
            anyhow::anyhow!(
                "server.listen (INWARD_SERVER__LISTEN) `{}` is not an address to listen on: {e}",
                self.server.listen
            )
        })?;
        anyhow::ensure!(
            self.provider.kind == "sandbox",
            "provider.kind `{}` is not known: use sandbox",
            self.provider.kind
        );
        Ok(())
    }
}

/// The `INWARD_…` variables that name a setting. Every setting sits in a section, so its
/// variable has a `__` (`INWARD_HOLDS__TTL_SECONDS`); the others (`INWARD_CONFIG`, and
/// those the scripts use, such as `INWARD_DEMO_DB`) are not settings and are left out
/// rather than refused as unknown keys.
fn setting_variables(vars: impl Iterator<Item = (String, String)>) -> config::Map<String, String> {
    vars.filter(|(name, _)| {
        name.strip_prefix("INWARD_")
            .is_some_and(|rest| rest.contains("__"))
    })
    .collect()
}

/// Never print credentials: the database URLs may carry a password.
impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redacted(&self.url))
            .field("max_connections", &self.max_connections)
            .field("search_connections", &self.search_connections)
            .field("read_url", &redacted(&self.read_url))
            .field("read_your_writes_seconds", &self.read_your_writes_seconds)
            .finish()
    }
}

fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("REDACTED"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) if url.is_empty() => String::new(),
        Err(_) => "<unparseable>".to_string(),
    }
}

impl fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppConfig")
            .field("server", &self.server)
            .field("database", &self.database)
            .field("holds", &self.holds)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_hold_for_fifteen_minutes() {
        let c = AppConfig::defaults();
        assert_eq!(c.holds.ttl_seconds, 900);
        assert_eq!(c.search.toll_free_default_limit, 10);
        assert!(c.pricing.toll_free.monthly_micros > c.pricing.local.monthly_micros);
    }

    /// Every leaf key of the defaults, dotted, with its value as docs/operating.md shows it.
    fn documented_form(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
        use serde_json::Value;
        let shown = match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    documented_form(&path, inner, out);
                }
                return;
            }
            Value::String(s) if s.is_empty() => "\"\"".to_string(),
            Value::String(s) => s.clone(),
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(|i| format!("{i}")).collect();
                format!("[{}]", items.join(", "))
            }
            other => other.to_string(),
        };
        out.push((prefix.to_string(), shown));
    }

    #[test]
    fn the_operating_guide_lists_every_key_with_its_default() {
        let defaults: serde_json::Value = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .unwrap();
        let mut expected = Vec::new();
        documented_form("", &defaults, &mut expected);
        expected.sort();

        let guide = include_str!("../docs/operating.md");
        let section = guide
            .split("## Configuration keys")
            .nth(1)
            .expect("docs/operating.md has a `## Configuration keys` section");
        let mut documented: Vec<(String, String)> = section
            .lines()
            .take_while(|line| !line.starts_with("## "))
            .filter_map(|line| {
                let cells: Vec<&str> = line.split(" | ").collect();
                let key = cells.first()?.strip_prefix("| `")?.strip_suffix('`')?;
                let default = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((key.to_string(), default.to_string()))
            })
            .collect();
        documented.sort();
        let missing: Vec<_> = expected
            .iter()
            .filter(|e| !documented.contains(e))
            .collect();
        let extra: Vec<_> = documented
            .iter()
            .filter(|d| !expected.contains(d))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "docs/operating.md's configuration keys differ from config/default.toml:\n\
             missing or with another default: {missing:?}\nnot settings: {extra:?}"
        );
    }

    #[test]
    fn variables_without_a_section_are_not_settings() {
        let vars = [
            ("INWARD_HOLDS__TTL_SECONDS", "5"),
            ("INWARD_CONFIG", "/etc/inward.toml"),
            ("INWARD_DEMO_DB", "inward"),
            ("DATABASE_URL", "postgres://h/db"),
            ("INWARD_TYPO__KEY", "1"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let mut kept: Vec<String> = setting_variables(vars.into_iter()).into_keys().collect();
        kept.sort();
        assert_eq!(kept, ["INWARD_HOLDS__TTL_SECONDS", "INWARD_TYPO__KEY"]);
    }

    #[test]
    fn database_password_is_redacted_in_debug_output() {
        let db = DatabaseConfig {
            url: "postgres://u:hunter2@db/inward".into(),
            max_connections: 1,
            search_connections: 1,
            read_url: "postgres://r:swordfish@replica/inward".into(),
            read_your_writes_seconds: 5,
        };
        let shown = format!("{db:?}");
        assert!(
            !shown.contains("hunter2")
                && !shown.contains("swordfish")
                && shown.contains("REDACTED"),
            "{shown}"
        );
    }
}
