use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use crate::audit::deferred::DeferredAudit;
use crate::auth::CachedCaller;
use crate::caches::{Cache, Invalidation, Topic};
use crate::config::{AppConfig, TuningConfig};
use crate::connections::repo::ConnectionRow;
use crate::connections::{self, ConnectionSpec, Kind};
use crate::domain::{Target, TargetKind};
use crate::domain::{TenantId, UserId};
use crate::error::{AppError, AppResult};
use crate::providers::http::OutboundPolicy;
use crate::providers::sandbox::Sandbox;
use crate::providers::{Adapters, Carrier, Platform};
use crate::reads::{ReadPools, RecentWriters, Replica};
use crate::secrets::SecretBox;

/// Adapters by (connection id, last change).
type AdapterCache = HashMap<(Uuid, DateTime<Utc>), Adapters>;

/// What every handler shares. Cloned for each extractor of each request, so it is one
/// reference count: as a struct of twenty-odd shared fields, cloning and dropping it was
/// about a twentieth of the server's CPU under 64 searching clients (`perf`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub pool: PgPool,
    /// Connections of the searches and list pages alone (see `search_pool`).
    pub search_pool: PgPool,
    /// The same, for the available-number search alone, with the scope `stock` alone
    /// (see `offer_pool`).
    pub offer_pool: PgPool,
    pub config: Arc<AppConfig>,
    pub secrets: SecretBox,
    sandbox: Adapters,
    /// Adapters keep their HTTP client and token between requests. Keyed by connection id
    /// and its last change, so an edited connection gets a new adapter. Only a cache: the
    /// connection itself lives in the database.
    adapters: Arc<Mutex<AdapterCache>>,
    /// Routing targets for the provision form, kept briefly so every page view does not
    /// list the platform. Lookups that decide something (provisioning, orphan checks) go
    /// to the platform directly.
    targets: Arc<Mutex<TargetCache>>,
    /// SEARCH entries, written behind the request (see `audit::deferred`).
    pub deferred_audit: DeferredAudit,
    /// Serializes `holds::release_at_provider` within this instance (see there).
    pub provider_releases: Arc<tokio::sync::Mutex<()>>,
    /// Group commit for the common reservation (see `reservations::batch`).
    pub hold_writer: crate::reservations::HoldWriter,
    /// The group-commit writers' connections (see `writer_pool`).
    writer_pool: PgPool,
    /// Kept coherent across instances by the database's notifications (see `caches`).
    pub invalidation: Invalidation,
    /// Sign-in attempts per client address on this instance (see `auth::throttle`).
    pub sign_in_limit: Arc<crate::auth::throttle::AddressLimit>,
    pub api_limits: Arc<crate::auth::rate_limit::ApiLimits>,
    /// Session or API token digest → the caller, for a few seconds.
    pub callers: Arc<Cache<Vec<u8>, CachedCaller>>,
    /// Tenant → the adapter of its connection (or the sandbox), for a few seconds.
    tenant_providers: Arc<Cache<TenantId, Adapters>>,
    /// Inventory dashboards drawn in the last minute, per scope (`inventory::dashboard`).
    pub dashboards: Arc<crate::inventory::drawn::Drawn>,
    /// Identity providers' discovery documents and keys (`sso::oidc`).
    pub sso: Arc<crate::sso::oidc::Discovery>,
    /// `database.read_url`'s pools, when there is a replica (see `reads`).
    replica: Option<Replica>,
    recent_writers: Arc<RecentWriters>,
}

/// The pool searches run on: the search, the tenant's number list with its CNAM/E911
/// statuses (`numbers::repo::list`) and the inventory page (`inventory::repo::list`), on a
/// few connections of their own, apart from the main pool's holds and provisioning, so
/// that a burst of list pages does not queue behind them (`inward bench --only machinery`:
/// the list pages twice as fast). Each writes what picks its index into the SQL, so a plan
/// the cache keeps still uses the index of its kind.
fn search_pool(pool: &PgPool, size: u32, tuning: &TuningConfig) -> PgPool {
    if !tuning.search_pools {
        return pool.clone();
    }
    pool_options(size).connect_lazy_with((*pool.connect_options()).clone())
}

/// The available-number search reads the stock (`numbers_in_stock`) and `rate_centers` only,
/// and is the most frequent statement there is: giving each of its connections its caller's
/// scope (one more round trip per search) cost 13% of searches per second (`inward bench
/// --only search`). Its connections carry the scope `stock` from the moment they connect
/// instead: that view admits it, and no policy does, so they see no protected row at all.
fn offer_pool(pool: &PgPool, size: u32, tuning: &TuningConfig) -> PgPool {
    if !tuning.search_pools {
        return pool.clone();
    }
    let options = (*pool.connect_options())
        .clone()
        .options([("inward.scope", "stock")]);
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(size.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options)
}

/// The replica's pools: one for searches that make their plan each time and the lists, one
/// with the scope `stock` as `offer_pool` has it. `config::check` has refused a URL that
/// does not parse.
fn replica(config: &AppConfig) -> Option<Replica> {
    if config.database.read_url.is_empty() {
        return None;
    }
    let options = match PgConnectOptions::from_str(&config.database.read_url) {
        Ok(options) => options.options([("jit", "off")]),
        Err(err) => {
            tracing::error!(error = %err, "database.read_url is not a PostgreSQL URL; reading from the primary");
            return None;
        }
    };
    let size = config.database.search_connections;
    Some(Replica {
        main: pool_options(size).connect_lazy_with(options.clone()),
        offer: sqlx::postgres::PgPoolOptions::new()
            .max_connections(size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.options([("inward.scope", "stock")])),
    })
}

/// The pool the group-commit writers run on (the reservation, the platform references on
/// the holds, the sandbox's own reservations): one connection per writer, so that a batch
/// never waits for a connection behind the requests it serves.
/// Without group commit every request writes its own statements on the main pool.
fn writer_pool(pool: &PgPool, tuning: &TuningConfig) -> PgPool {
    if !tuning.group_commit {
        return pool.clone();
    }
    let writers = crate::reservations::HoldWriter::CONNECTIONS + Sandbox::WRITERS;
    pool_options(writers as u32).connect_lazy_with((*pool.connect_options()).clone())
}

/// How long a request waits for a database connection before it is answered 503 with
/// `Retry-After`: when the database is down, or so busy that every connection stays taken
/// this long, a quick answer the client can act on beats a hung request.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// The settings of every pool of the server. Each connection handed out carries the scope
/// of the task that takes it (see `db_scope`), whether it was idle or is new.
pub fn pool_options(size: u32) -> sqlx::postgres::PgPoolOptions {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(size.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|conn, _| Box::pin(crate::db_scope::apply(conn)))
        .before_acquire(|conn, _| {
            Box::pin(async move { crate::db_scope::apply(conn).await.map(|()| true) })
        })
}

/// How long a cached caller or adapter may be served without being read again, even when
/// no notification retired it.
const CACHE_TTL: Duration = Duration::from_secs(10);

type TargetCache = HashMap<(TenantId, Option<TargetKind>), (Instant, Vec<Target>)>;

impl AppState {
    /// The cookie names and attributes this configuration uses.
    pub fn cookies(&self) -> crate::auth::cookies::Cookies {
        crate::auth::cookies::Cookies {
            secure: self.config.server.secure_cookies,
        }
    }

    pub fn new(pool: PgPool, config: AppConfig) -> Self {
        let writer_pool = writer_pool(&pool, &config.tuning);
        let batching = config.tuning.group_commit;
        let sandbox = Adapters::platform_and_carrier(Arc::new(Sandbox::new(
            pool.clone(),
            writer_pool.clone(),
            config.sandbox.clone(),
            batching,
        )))
        .instrumented();
        let secrets = SecretBox::from_keys(&config.secrets.key, &config.secrets.previous_keys)
            .unwrap_or_else(|err| {
                tracing::error!(error = %err, "ignoring the configured secrets key");
                SecretBox::none()
            });
        let invalidation = Invalidation::new(pool.clone());
        let sign_in_limit = Arc::new(crate::auth::throttle::AddressLimit::new(
            config.server.sign_ins_per_address_per_minute,
            config.server.sign_in_burst_per_address,
        ));
        let api_limits = Arc::new(crate::auth::rate_limit::ApiLimits::new(&config.rate_limits));
        let search_pool = search_pool(&pool, config.database.search_connections, &config.tuning);
        let offer_pool = offer_pool(&pool, config.database.search_connections, &config.tuning);
        let replica = replica(&config);
        let recent_writers = Arc::new(RecentWriters::new(Duration::from_secs(
            config.database.read_your_writes_seconds,
        )));
        let cache_ttl = if config.tuning.caches {
            CACHE_TTL
        } else {
            Duration::ZERO
        };
        AppState(Arc::new(Shared {
            pool: pool.clone(),
            search_pool,
            offer_pool,
            config: Arc::new(config),
            secrets,
            sandbox,
            adapters: Arc::default(),
            targets: Arc::default(),
            deferred_audit: DeferredAudit::new(pool.clone()),
            hold_writer: crate::reservations::HoldWriter::new(writer_pool.clone(), batching),
            writer_pool,
            provider_releases: Arc::default(),
            sign_in_limit,
            api_limits,
            callers: Arc::new(Cache::new(
                invalidation.clone(),
                Topic::Callers,
                cache_ttl,
                100_000,
            )),
            tenant_providers: Arc::new(Cache::new(
                invalidation.clone(),
                Topic::Connections,
                cache_ttl,
                100_000,
            )),
            invalidation,
            dashboards: Default::default(),
            sso: Default::default(),
            replica,
            recent_writers,
        }))
    }

    /// Closes the pools this state opened beside the one it was given (a benchmark starts
    /// several servers on one pool, one after another).
    pub async fn close_own_pools(&self) {
        let mut own = Vec::new();
        if self.config.tuning.group_commit {
            own.push(&self.writer_pool);
        }
        if self.config.tuning.search_pools {
            own.extend([&self.search_pool, &self.offer_pool]);
        }
        if let Some(replica) = &self.replica {
            own.extend([&replica.main, &replica.offer]);
        }
        for pool in own {
            pool.close().await;
        }
    }

    /// Where `user`'s searches and list pages read: the replica, unless there is none or
    /// `user` changed something lately (see `reads`).
    pub fn reads_for(&self, user: UserId) -> ReadPools<'_> {
        match &self.replica {
            Some(replica) if !self.recent_writers.wrote_lately(user) => ReadPools {
                main: &replica.main,
                offer: &replica.offer,
                lists: &replica.main,
                downloads: &replica.main,
            },
            _ => self.primary_reads(),
        }
    }

    /// `user` has changed something: with a replica, their reads go to the primary for a
    /// while (without one there is nothing to remember, and holds skip the lock).
    pub fn caller_wrote(&self, user: UserId) {
        if self.replica.is_some() {
            self.recent_writers.wrote(user);
        }
    }

    /// The replica's pool, when there is one (for readiness).
    pub fn replica_pool(&self) -> Option<&PgPool> {
        self.replica.as_ref().map(|r| &r.main)
    }

    /// The primary's pools for reads that decide something (an order picking its numbers).
    pub fn primary_reads(&self) -> ReadPools<'_> {
        ReadPools {
            main: &self.pool,
            offer: &self.offer_pool,
            lists: &self.search_pool,
            downloads: &self.pool,
        }
    }

    pub fn outbound_policy(&self) -> OutboundPolicy {
        let p = &self.config.providers;
        OutboundPolicy {
            max_attempts: p.max_attempts,
            base_delay: std::time::Duration::from_millis(p.base_delay_ms),
            max_delay: std::time::Duration::from_secs(p.max_retry_wait_seconds),
            // Checked when the configuration was loaded.
            allow: crate::outbound::Allowlist::parse(&self.config.outbound.allow_hosts)
                .unwrap_or_default(),
        }
    }

    /// The platform a tenant's numbers are provisioned on: its connection's, or the sandbox.
    pub async fn platform_for(&self, tenant: TenantId) -> AppResult<Arc<dyn Platform>> {
        Ok(self.provider_for(tenant).await?.platform)
    }

    /// The carrier that keeps reservations of its own beside the tenant's holds, if any.
    pub async fn reserving_carrier_for(
        &self,
        tenant: TenantId,
    ) -> AppResult<Option<Arc<dyn Carrier>>> {
        Ok(self.provider_for(tenant).await?.reserving_carrier())
    }

    /// Everything that speaks for the tenant's numbers: its connection's adapters, or the
    /// sandbox's.
    pub async fn provider_for(&self, tenant: TenantId) -> AppResult<Adapters> {
        if let Some(adapter) = self.tenant_providers.get(&tenant) {
            return Ok(adapter);
        }
        let ticket = self.tenant_providers.ticket();
        let adapter = self.read_provider(tenant).await?;
        self.tenant_providers
            .insert(ticket, tenant, adapter.clone());
        Ok(adapter)
    }

    async fn read_provider(&self, tenant: TenantId) -> AppResult<Adapters> {
        let row = connections::repo::for_tenant(&mut *self.pool.acquire().await?, tenant).await?;
        Ok(match row {
            Some(row) => self.adapters_for(&row)?,
            None => None,
        }
        .unwrap_or_else(|| self.sandbox.clone()))
    }

    /// The adapters of a stored connection (none for a sandbox connection), built once per
    /// version of it and shared by every caller.
    pub fn adapters_for(&self, row: &ConnectionRow) -> AppResult<Option<Adapters>> {
        let key = (row.id, row.updated_at);
        if let Some(adapters) = self.adapters.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(Some(adapters));
        }
        let kind = Kind::parse(&row.kind)?;
        let credentials = match &row.credentials {
            Some(sealed) => {
                let opened = self
                    .secrets
                    .open(sealed, &connections::sealed_for(row.id, row.tenant_id))
                    .map_err(|e| connections::unreadable(row.id, e))?;
                serde_json::from_slice(&opened.plaintext)
                    .map_err(|e| AppError::Internal(e.into()))?
            }
            None => serde_json::Map::new(),
        };
        let spec = ConnectionSpec {
            kind,
            region: row.region.clone(),
            base_url: row.base_url.clone(),
            credentials,
        };
        let Some(adapters) = connections::adapters(&spec, self.outbound_policy()) else {
            return Ok(None);
        };
        // Every adapter is wrapped so its calls show up in /metrics.
        let adapters = adapters.instrumented();
        if let Ok(mut cache) = self.adapters.lock() {
            cache.retain(|(id, _), _| *id != row.id);
            cache.insert(key, adapters.clone());
        }
        Ok(Some(adapters))
    }

    /// The tenant's routing targets, from a cache at most `providers.targets_cache_seconds` old.
    pub async fn targets(
        &self,
        tenant: TenantId,
        kind: Option<TargetKind>,
    ) -> AppResult<Vec<Target>> {
        let key = (tenant, kind);
        if let Some((at, cached)) = self.targets.lock().ok().and_then(|c| c.get(&key).cloned())
            && at.elapsed() < Duration::from_secs(self.config.providers.targets_cache_seconds)
        {
            return Ok(cached);
        }
        let fresh = self
            .platform_for(tenant)
            .await?
            .list_targets(tenant, kind)
            .await?;
        if let Ok(mut cache) = self.targets.lock() {
            cache.insert(key, (Instant::now(), fresh.clone()));
        }
        Ok(fresh)
    }

    /// Drops the tenant's cached targets (after this instance created or changed one).
    pub fn forget_targets(&self, tenant: TenantId) {
        if let Ok(mut cache) = self.targets.lock() {
            cache.retain(|(t, _), _| *t != tenant);
        }
    }
}
