//! Integration tests: the real router over real HTTP against real PostgreSQL.

mod chrome;
mod common;

mod aging;
mod approvals;
mod audit_log;
mod bad_input;
mod browser;
mod browser_e911;
mod cli;
mod cnam;
mod e911;
mod expiry;
mod features_isolation;
mod isolation;
mod lifecycle;
mod pages;
mod porting;
mod races;
mod saga;
mod search;
mod settings;
