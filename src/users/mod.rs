//! Managing people and access: an organization's users (invite, role, disable), the API
//! tokens of each user, and one's own account (password, sessions). Who a caller is and
//! the tables behind it belong to `auth`.

pub mod account;
pub mod members;
pub mod routes;
pub mod tokens;
