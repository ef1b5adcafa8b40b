//! Request extractors whose failures are problem documents instead of axum's plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ApiError;

/// The largest body any JSON route accepts. Real requests are a few hundred bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body, with failures mapped to 400/413/415/422 problems that say what is wrong and
/// where (serde's message carries the line and column). The body is parsed straight from its
/// bytes with `serde_json` (axum's `Json` also tracks the path to each field, which costs on
/// every request of the hot path).
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req).await?;
        parse(&bytes).map(Json)
    }
}

/// The body of a JSON request, checked for its media type and size but not yet parsed: for
/// handlers that parse into borrowed strings (no copy per field, see `/v1/decide`).
pub async fn json_body(req: Request) -> Result<Bytes, ApiError> {
    let is_json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim();
            m.eq_ignore_ascii_case("application/json")
                || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    // The limit is applied here rather than left to the router's `DefaultBodyLimit`, since
    // `/v1/decide` does not pass through the router (see `app`).
    limited(req.into_body(), BODY_LIMIT).await
}

/// A body read whole up to `limit` bytes; past it, `413 payload_too_large` naming the limit.
pub async fn limited(body: axum::body::Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| unreadable(&*e.into_inner(), limit))
}

/// The problem of a body that could not be read. The cause may sit under other errors (the
/// connection bounds the body too, see `listen`), so the whole chain is searched.
fn unreadable(e: &(dyn std::error::Error + 'static), limit: usize) -> ApiError {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return ApiError::PayloadTooLarge { limit };
        }
        if let Some(slow) = c.downcast_ref::<crate::listen::body::BodyTimeout>() {
            return ApiError::RequestTimeout(slow.to_string());
        }
        cause = c.source();
    }
    ApiError::bad_request(
        "unreadable_body",
        format!("the body could not be read: {e}"),
    )
}

/// Parses a JSON body; values may borrow from `bytes`.
pub fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::unprocessable(
            "invalid_body",
            format!("the body does not match the expected shape: {e}"),
        ),
        _ => ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}")),
    })
}

/// The query string of a route that checks its bearer token first: axum's `Query` would
/// refuse a bad one before the handler runs — to anyone, in plain text, echoing the parameter
/// it could not read. This one only holds the query; the handler parses it with
/// [`LateQuery::parse`] once the caller is known, and a bad one is a problem that repeats
/// nothing of the input.
pub struct LateQuery(axum::http::Uri);

impl<S: Send + Sync> FromRequestParts<S> for LateQuery {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(LateQuery(parts.uri.clone()))
    }
}

impl LateQuery {
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&self.0)
            .map(|q| q.0)
            .map_err(|_| {
                ApiError::bad_request(
                    "invalid_query",
                    "the query string does not fit this route; docs/api.md lists its parameters",
                )
            })
    }
}

/// A string from a JSON body that borrows from it when it can (no escapes) and is copied only
/// when it must be unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub std::borrow::Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_borrows_plain_strings_and_unescapes_others() {
        let v: Vec<Text> = parse(br#"["plain", "caf\u00e9 \"x\""]"#).unwrap();
        assert!(matches!(v[0].0, std::borrow::Cow::Borrowed("plain")));
        assert_eq!(&*v[1], "caf\u{e9} \"x\"");
        assert!(matches!(v[1].0, std::borrow::Cow::Owned(_)));
        let e = parse::<Vec<Text>>(b"[1]").unwrap_err();
        assert!(e.to_string().contains("a string") || format!("{e:?}").contains("a string"));
    }
}

/// `axum::extract::Query`, with a malformed query string answered as a problem document
/// (`400 invalid_query`, naming the parameter) instead of axum's plain text.
pub struct Query<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e) => Err(ApiError::bad_request(
                "invalid_query",
                format!("the query string is not valid: {}", e.body_text()),
            )),
        }
    }
}

/// The raw body of a route that reads it itself (TOML, a form it checks by hand, a JSON body
/// parsed after the token is checked), with the router's size limit answered as a problem
/// document (`413 payload_too_large`) instead of axum's plain text.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT })
            }
            Err(e) => Err(ApiError::bad_request(
                "unreadable_body",
                format!("the body could not be read: {}", e.body_text()),
            )),
        }
    }
}
