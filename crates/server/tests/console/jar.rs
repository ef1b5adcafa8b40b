//! A browser for the console's tests: the app, a cookie jar, forms with the page's CSRF token,
//! and the headers a browser sends with a form post from our own page.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use std::collections::BTreeMap;
use tower::ServiceExt;

use crate::common::TestApp;

pub struct Jar<'a> {
    pub app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    pub fn location(&self) -> &str {
        self.header("location")
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let key = r#"name="csrf" value=""#;
        let at = self
            .text
            .find(key)
            .unwrap_or_else(|| panic!("no csrf field in: {}", self.text));
        let rest = &self.text[at + key.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl<'a> Jar<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Jar {
            app,
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, req: Request<Body>) -> Page {
        let res = self.app.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let text = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes())
            .into_owned();
        Page {
            status,
            headers,
            text,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = Request::get(path)
            .header(header::COOKIE, self.cookie_header())
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    /// A form post as a browser sends it from our own page (same origin).
    pub async fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Page {
        self.post_from(path, pairs, Some("http://custodian.test"))
            .await
    }

    pub async fn post_from(
        &mut self,
        path: &str,
        pairs: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Page {
        let body = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut b = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "custodian.test")
            .header(header::COOKIE, self.cookie_header());
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        self.send(b.body(Body::from(body)).unwrap()).await
    }

    /// Signs in with the password; answers the sign-in post's answer.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        self.cookies.remove("cst_console");
        let form = self.get("/console/login").await;
        let csrf = form.csrf();
        self.post(
            "/console/login",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
    }

    /// The CSRF token of a signed-in page.
    pub async fn csrf(&mut self) -> String {
        self.get("/console/account").await.csrf()
    }
}
