//! Integration tests: the real router over real HTTP against real PostgreSQL.

mod chrome;
mod common;
mod cxone;

mod audit_log;
mod bad_input;
mod browser;
mod browser_inventory;
mod cli;
mod expiry;
mod genesys;
mod inventory;
mod isolation;
mod lifecycle;
mod metrics;
mod multi_instance;
mod pages;
mod races;
mod ringcx;
mod saga;
mod search;
mod sim;
