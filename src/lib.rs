//! Inward: a multi-tenant self-service portal for DID phone numbers.

pub mod admin;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod connections;
pub mod domain;
pub mod error;
pub mod features;
pub mod idempotency;
pub mod inventory;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod numbers;
pub mod porting;
pub mod providers;
pub mod reservations;
pub mod search;
pub mod seed;
pub mod startup;
pub mod state;
pub mod tenants;
pub mod web;
