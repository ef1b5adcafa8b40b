//! The one door for what the console must leave in the audit trail: every sign-in (right,
//! wrong, locked), sign-out, second-factor change and action on a request, user, token or
//! hold goes through [`console_audit`]: a tracing event (target `custodian::audit`) and an
//! entry in the hash-chained audit trail (`console.sign_in` or `console.action`, docs/audit.md),
//! each with the acting user's id, the action and the object's id — never an address, a
//! password, a code or a client IP (docs/logging.md).

/// Records that `actor` (a user id, or `-` when nobody is signed in) did `action` to `object`
/// (a request, user, token or hold id, or `-`).
pub fn console_audit(state: &custodian_app::Context, actor: &str, action: &str, object: &str) {
    tracing::info!(target: "custodian::audit", actor, action, object, "console");
    custodian_app::audit::console(state, actor, action, object);
}
