//! No input makes the API panic or answer 500: arbitrary bodies, arbitrary JSON shapes, and
//! arbitrary values in otherwise well-formed requests, thrown at every JSON route.

mod common;

use proptest::prelude::*;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("marketing"),
            Just("analytics"),
            Just("DE"),
            Just("sale"),
            Just("ada@example.com"),
            Just("2018-05-25"),
            Just("banner")
        ]
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("subject".to_string()),
                    Just("purpose".to_string()),
                    Just("categories".to_string()),
                    Just("country".to_string()),
                    Just("recipient".to_string()),
                    Just("email".to_string()),
                    Just("device_id".to_string()),
                    Just("choices".to_string()),
                    Just("policy_version".to_string()),
                    Just("source".to_string()),
                    Just("language".to_string()),
                    Just("account".to_string()),
                    "[a-z_]{1,10}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One runtime and one app for all cases: the pool belongs to the runtime that made it.
fn shared() -> &'static (tokio::runtime::Runtime, common::TestApp) {
    static SHARED: std::sync::OnceLock<(tokio::runtime::Runtime, common::TestApp)> =
        std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let app = rt.block_on(common::TestApp::sqlite());
        (rt, app)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn json_routes_never_fail_with_500(body in arb_json(), raw in ".{0,64}", route in 0usize..8, use_raw in any::<bool>()) {
        let (rt, app) = shared();
        rt.block_on(async {
            let path = ["/v1/decide", "/v1/consent", "/v1/consent/link", "/v1/unsubscribe-links", "/u/v1.x.y",
                "/v1/requests", "/v1/requests/req_x/verify", "/v1/admin/requests/req_x/deny"][route];
            let text = if use_raw { raw.clone() } else { body.to_string() };
            let token = if path.contains("/admin/") { &app.dpo } else { &app.service };
            let a = app.post_raw(path, Some(token), text, &[]).await;
            prop_assert!(a.status.as_u16() < 500, "{path} answered {} to {}: {}", a.status, body, a.text);
            if !a.status.is_success() {
                prop_assert_eq!(a.content_type.as_str(), "application/problem+json");
            }
            Ok(())
        })?;
    }
}
