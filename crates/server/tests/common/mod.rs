//! Test helper: the real router over a fresh database, driven in process.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use custodian_core::clock::ManualClock;
use custodian_core::token::{self, Role};
use custodian_server::{build, Settings, SharedState};
use custodian_store::{testing, Store};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub struct TestApp {
    pub state: SharedState,
    pub router: custodian_server::app::App,
    pub store: Store,
    /// Where subject keys live: a file of its own beside an SQLite database, as `serve` does.
    pub key_store: Store,
    pub url: String,
    pub service: String,
    pub dpo: String,
    pub admin: String,
    pub clock: ManualClock,
}

pub const SECRET: &[u8] = b"test-secret-test-secret-test-secret";

/// 2026-01-01T00:00:00Z, where every test clock starts.
pub const START: i64 = 1_767_225_600_000_000;

/// The master key every test server uses (tests that rotate it make their own).
pub const MASTER_KEY: [u8; 32] = [0x4d; 32];

/// Settings as `serve` builds them, with a clock the test controls.
pub fn settings(store: Store, policy: custodian_policy::Policy) -> Settings {
    settings_with_clock(store, policy, ManualClock::at(START))
}

pub fn settings_with_clock(
    store: Store,
    policy: custodian_policy::Policy,
    clock: ManualClock,
) -> Settings {
    Settings {
        app: custodian_app::Settings {
            policy,
            store: store.clone(),
            secret: SECRET.to_vec(),
            public_url: "http://custodian.test".into(),
            clock: std::sync::Arc::new(clock),
            smtp: None,
            intake_limits: Default::default(),
            datastores: Vec::new(),
            master_key: custodian_core::keys::MasterKey::from_bytes(MASTER_KEY),
            key_store: store.clone(),
            consent_image: Default::default(),
        },
        allowed_origins: None,
        console: Default::default(),
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        Self::on(&testing::fresh_sqlite_url()).await
    }

    pub async fn postgres() -> Option<TestApp> {
        Some(Self::on(&testing::fresh_postgres_url().await?).await)
    }

    pub async fn on(url: &str) -> TestApp {
        Self::with_policy(url, custodian_policy::example()).await
    }

    pub async fn with_policy(url: &str, policy: custodian_policy::Policy) -> TestApp {
        Self::with(url, policy, |_| {}).await
    }

    /// A node whose settings `adjust` changes before it is built.
    pub async fn with(
        url: &str,
        policy: custodian_policy::Policy,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let store = Store::open(url).await.expect("open store");
        let mut tokens = Vec::new();
        for role in [Role::Service, Role::Dpo, Role::Admin] {
            let t = token::generate();
            store
                .insert_token("test", role, &token::hash(&t))
                .await
                .unwrap();
            tokens.push(t);
        }
        let clock = ManualClock::at(START);
        let key_store = match url.strip_suffix("custodian.db") {
            Some(dir) => Store::open(&format!("{dir}custodian-keys.db"))
                .await
                .expect("open key store"),
            None => store.clone(),
        };
        let mut settings = settings_with_clock(store.clone(), policy, clock.clone());
        settings.app.key_store = key_store.clone();
        adjust(&mut settings);
        let state = build(settings).await.expect("build state");
        TestApp {
            router: custodian_server::app::app(state.clone()),
            state,
            store,
            key_store,
            url: url.to_owned(),
            admin: tokens.pop().unwrap(),
            dpo: tokens.pop().unwrap(),
            service: tokens.pop().unwrap(),
            clock,
        }
    }

    pub async fn call(&self, req: Request<Body>) -> Answer {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut b = Request::get(path);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.call(b.body(Body::empty()).unwrap()).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        body: impl Into<Body>,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        self.call(b.body(body.into()).unwrap()).await
    }

    /// Every event in the ledger, oldest first.
    pub async fn events(&self) -> Vec<custodian_core::ledger::ConsentEvent> {
        use futures_util::TryStreamExt;
        self.store.all_consent_events().try_collect().await.unwrap()
    }

    /// Walks every chain; panics at the first break. Answers the number of events checked.
    pub async fn verify_ledger(&self) -> u64 {
        use custodian_core::ledger::{ChainVerifier, CHAINS};
        use futures_util::TryStreamExt;
        let mut total = 0;
        for chain in 0..CHAINS {
            let mut v = ChainVerifier::new(chain);
            let mut s = self.store.chain_events(chain);
            while let Some(e) = s.try_next().await.unwrap() {
                v.push(&e).unwrap();
            }
            total += v.checked;
        }
        total
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.post_raw(path, token, body.to_string(), &[]).await
    }
}

/// Every error answer must be a problem document.
pub fn assert_problem(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.text);
    assert_eq!(a.content_type, "application/problem+json", "{}", a.text);
    assert_eq!(a.body["status"], status);
    assert_eq!(a.body["code"], code, "{}", a.text);
    assert!(a.body["type"].as_str().unwrap().ends_with(code));
    assert!(a.body["title"].is_string() && a.body["detail"].is_string());
}

/// The sample company's database (10 customers) in a file of its own, registered as the
/// datastore `company` of `app`; its URL reaches the connectors through the environment
/// variable `env` (a name per test file, since tests run in parallel).
pub async fn company_datastore(
    app: &TestApp,
    tag: &str,
    env: &str,
) -> custodian_connectors::sql::Db {
    use custodian_connectors::{company, sql::Db};
    let dir = std::env::temp_dir().join(format!("custodian-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("company.db").display());
    let db = Db::connect(&url).await.unwrap();
    company::create_schema(&db).await.unwrap();
    company::generate(&db, 10, 0).await.unwrap();
    std::env::set_var(env, &url);
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/company/company.toml");
    app.store
        .put_datastore("company", dataset.to_str().unwrap(), Some(env), None)
        .await
        .unwrap();
    db
}
