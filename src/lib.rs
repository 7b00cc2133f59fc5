//! techx — the backend of a technology exchange (sàn giao dịch công nghệ).
//!
//! The binary (`main.rs`) is a thin CLI over this library; tests build the very same
//! [`app::build`] the server runs.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod error_codes;
pub mod mail;
pub mod observability;
pub mod openapi;
pub mod search;
pub mod seed;
pub mod startup;
pub mod state;
pub mod store;
pub mod webhooks;
pub mod workflows;
