//! Integration tests: the real router over real HTTP against real PostgreSQL.

mod chrome;
mod common;

mod audit_log;
mod bad_input;
mod browser;
mod browser_inventory;
mod cli;
mod expiry;
mod inventory;
mod isolation;
mod lifecycle;
mod pages;
mod races;
mod saga;
mod search;
