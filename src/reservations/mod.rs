//! Reservations: one request holds several numbers for the hold time; each number then
//! gets provisioned (or the hold is cancelled or expires). A hold of premium numbers may wait
//! for an approval first (`approvals`).

pub mod api;
pub mod approvals;
mod batch;
pub mod extend;
pub mod holds;
pub mod order;
pub mod pages;
pub mod provision;
pub mod provision_saga;
pub mod quick;
pub mod repo;
pub mod routes;

pub use batch::HoldWriter;
pub use holds::{cancel, reserve};
