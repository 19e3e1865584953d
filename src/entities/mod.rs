//! sea-orm entities, one module per table.

pub mod audit_event;
pub mod identification;
pub mod login_failure;
pub mod session;
pub mod user;
