//! Interactive sessions: a child in a PTY (a local shell or `ssh -tt` alike), a bounded ring
//! buffer of its output, and the registry and reaper that own them.
//!
//! Architecture invariant: runs things and returns outcomes; never writes audit records and
//! knows nothing about MCP.
