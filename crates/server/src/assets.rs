//! Static assets and pages for visitors: the banner script and stylesheet, and the demo site.
//! (Owned by the banner work; see issue 4.)

use axum::Router;

use crate::state::SharedState;

/// Routes serving the banner assets and the demo.
pub fn routes() -> Router<SharedState> {
    Router::new()
}
