//! Integration tests: the real router over real HTTP against real PostgreSQL.

mod chrome;
mod common;
mod cxone;

mod aging;
mod approvals;
mod audit_log;
mod bad_input;
mod browser;
mod browser_e911;
mod browser_inventory;
mod caches;
mod cli;
mod cnam;
mod e911;
mod expiry;
mod features_isolation;
mod genesys;
mod inventory;
mod inventory_filters;
mod inventory_more;
mod isolation;
mod job_leases;
mod lifecycle;
mod metrics;
mod multi_instance;
mod pages;
mod pool;
mod porting;
mod races;
mod ringcx;
mod ringcx_pool;
mod saga;
mod search;
mod settings;
mod sim;
