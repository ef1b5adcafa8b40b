//! The accept loop against real loopback sockets: slow heads and bodies are cut off, an
//! oversized declared body is refused before it is read, a flood of idle connections beyond the
//! cap (plain or in a TLS handshake) does not lock `/healthz` out, the client's address reaches
//! the intake limits, and every page the router serves carries the security headers.

#[path = "../common/mod.rs"]
mod common;

mod headers;
mod limits;
mod tls;
