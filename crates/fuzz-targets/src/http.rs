//! What anyone on the network sends: JSON bodies of `/v1/decide`, `/v1/consent`,
//! `/v1/consent/link`, `/v1/requests` and its verification, the banner's cookie, one-click
//! unsubscribe tokens. Each body is parsed into the type its handler parses it into, with the
//! handlers' own `extract::parse`, then taken as far as the handler goes without a database.

use custodian_app::requests::{check_intake, Intake};
use custodian_core::consent::Source;
use custodian_core::decide::{DecisionInput, Engine, NoConsents};
use custodian_core::request::Kind;
use custodian_core::subject::{IdKind, SubjectHasher, SubjectId, SubjectRef};
use custodian_core::unsubscribe::{Signer, Unsubscribe};
use custodian_server::extract::parse;
use custodian_server::routes::consent::{ConsentRequest, DeviceLinkRequest};
use custodian_server::routes::decide::DecideRequest;
use custodian_server::routes::privacy_center::guard;
use custodian_server::routes::requests::{NewRequest, VerifyBody};

fn engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| Engine::compile(crate::policy()).expect("the example policy compiles"))
}

fn hasher() -> SubjectHasher {
    SubjectHasher::new(b"fuzz secret, not a real one")
}

/// `POST /v1/decide`: the body, the subject, and the decision against the example policy.
pub fn decide_body(data: &[u8]) {
    let Ok(req) = parse::<DecideRequest>(data) else {
        return;
    };
    let Ok(id) = req.subject.parse() else {
        return;
    };
    let input = DecisionInput {
        subject: hasher().reference(&id),
        purpose: &req.purpose,
        categories: &req.categories,
        country: &req.country,
        recipient: req.recipient.as_deref(),
        gpc: data.len() % 2 == 0,
        group_size: req.group_size,
    };
    if let Ok(d) = engine().decide(&input, &NoConsents) {
        assert!(!d.rule.is_empty(), "a decision names the rule that made it");
    }
}

/// `POST /v1/consent` and `POST /v1/consent/link`: the bodies, the subjects, the source a
/// caller may name, and the purposes against the policy.
pub fn consent_body(data: &[u8]) {
    if let Ok(req) = parse::<ConsentRequest>(data) {
        let _ = req.subject.parse().map(|id| hasher().reference(&id));
        let _ = Source::parse_caller_chosen(&req.source);
        for purpose in req.choices.keys() {
            let _ = engine().consent_slot(purpose);
        }
    }
    if let Ok(req) = parse::<DeviceLinkRequest>(data) {
        let _ = SubjectId::parse(IdKind::DeviceId, &req.device_id);
        let _ = req.account.parse();
    }
}

/// `POST /v1/requests` and `POST /v1/requests/{id}/verify`: the bodies and the intake's
/// checks (address, country, customer, details), which run before anything is written.
pub fn request_body(data: &[u8]) {
    if let Ok(req) = parse::<NewRequest>(data) {
        if let Some(kind) = Kind::parse(&req.kind) {
            let intake = Intake {
                kind,
                email: req.email,
                details: req.details,
                country: req.country,
                language: req.language,
                customer: req.customer,
                purposes: req.purposes,
            };
            if let Ok((_, Some(country))) = check_intake(crate::policy(), &intake) {
                assert_eq!(country.len(), 2, "a country is an alpha-2 code");
            }
        }
    }
    let _ = parse::<VerifyBody>(data);
}

/// The banner's `cst_consent` cookie as the privacy centre reads it from a `Cookie` header;
/// a decoded cookie with choices written into it must read back with the same device and
/// those choices.
pub fn banner_cookie(data: &[u8]) {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let Some(raw) = guard::cookie_in(header, guard::DEVICE_COOKIE) else {
        return;
    };
    let Some(device) = guard::device_of(raw) else {
        return;
    };
    let policy = crate::policy();
    let choices: Vec<(String, bool)> = policy
        .consent_purposes()
        .enumerate()
        .map(|(i, p)| (p.id.clone(), (data.len() + i) % 2 == 0))
        .collect();
    let written = guard::device_cookie_value(policy, &device, &choices);
    let again = guard::device_of(&written).expect("a cookie we wrote reads back");
    assert_eq!(again.id, device.id, "the device survives a rewrite");
    for (purpose, given) in &choices {
        assert_eq!(again.cookie["c"][purpose], *given, "{purpose}");
    }
}

/// `/u/{token}`: any token is refused or accepted without a panic; a token signed for any
/// subject, consent purpose and expiry reads back as what was signed.
pub fn unsubscribe_token(data: &[u8]) {
    let signer = Signer::new(b"fuzz secret, not a real one");
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = signer.verify(token, 0);
    }
    let purposes: Vec<&str> = crate::policy()
        .consent_purposes()
        .map(|p| p.id.as_str())
        .collect();
    let mut subject = [0u8; 32];
    for (i, b) in data.iter().take(32).enumerate() {
        subject[i] = *b;
    }
    let tail = data.get(32..).unwrap_or_default();
    let mut expiry = [0u8; 8];
    for (i, b) in tail.iter().take(8).enumerate() {
        expiry[i] = *b;
    }
    let u = Unsubscribe {
        subject: SubjectRef(subject),
        purpose: purposes[data.len() % purposes.len()].to_owned(),
        expires_at: i64::from_le_bytes(expiry),
    };
    let token = signer.sign(&u);
    match signer.verify(&token, i64::MIN) {
        Ok(back) => assert_eq!(back, u, "a signed token reads back as signed"),
        Err(e) => assert!(u.expires_at == i64::MIN, "{e}: {u:?}"),
    }
}
