//! A minimal server on Custodian's HTTP stack that answers `POST /v1/decide` with a constant.
//!
//! Usage: `constant-server 127.0.0.1:PORT`. Prints `constant listening on http://ADDR` once
//! it accepts connections. The body is read in full and discarded, so the reference pays
//! for HTTP and body transfer but for no decision (and no auth, no JSON parsing, no metrics).

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;

const ANSWER: &str =
    r#"{"allowed":true,"purpose":"analytics","legal_basis":"consent","obligations":[]}"#;

async fn decide(body: Bytes) -> impl IntoResponse {
    std::hint::black_box(body);
    ([(header::CONTENT_TYPE, "application/json")], ANSWER)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        println!("constant listening on http://{}", listener.local_addr()?);
        let app = Router::new().route("/v1/decide", post(decide));
        axum::serve(listener, app).await?;
        Ok(())
    })
}
