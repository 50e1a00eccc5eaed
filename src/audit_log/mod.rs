//! The audit log as people and automations read it: the filtered list, the CSV export and
//! the chain's verification. Writing, sealing and storing entries belong to `audit`.

pub mod api;
pub mod pages;
pub mod routes;
