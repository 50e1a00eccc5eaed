use std::sync::Arc;

use sqlx::PgPool;
use uuid::Uuid;

use crate::config::AppConfig;
use crate::providers::Provider;
use crate::providers::instrumented::Instrumented;
use crate::providers::sandbox::Sandbox;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<AppConfig>,
    sandbox: Arc<dyn Provider>,
}

impl AppState {
    pub fn new(pool: PgPool, config: AppConfig) -> Self {
        // Every provider is wrapped so its calls show up in /metrics.
        let sandbox =
            Instrumented::wrap(Arc::new(Sandbox::new(pool.clone(), config.sandbox.clone())));
        AppState {
            pool,
            config: Arc::new(config),
            sandbox,
        }
    }

    /// The platform a tenant's numbers are provisioned on. Every tenant uses the built-in
    /// sandbox until per-tenant platform connections exist.
    pub fn provider_for(&self, _tenant: Uuid) -> Arc<dyn Provider> {
        self.sandbox.clone()
    }
}
