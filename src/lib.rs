//! relay-shell: an MCP server that gives an AI agent a tiered-authority, audited shell on hosts
//! its operator owns.
//!
//! Every tool call passes one gate ([`gate`]): classify → admit → run with a deadline → bound
//! → audit. See `docs/architecture.md` for the module map and the invariants each module keeps.

#![warn(unreachable_pub)]

pub mod audit;
pub mod cli;
pub mod config;
pub mod confine;
pub mod deploy;
pub mod error;
pub mod exec;
pub mod gate;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod notices;
pub mod policy;
pub mod redact;
pub mod server;
pub mod session;
pub mod ssh;
pub(crate) mod text;
