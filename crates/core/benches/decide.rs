//! One decision in process: the budget is 2 µs (issue 2); the hot path must stay far below it.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use custodian_core::decide::{DecisionInput, Engine, NoConsents};
use custodian_core::subject::{IdKind, SubjectHasher, SubjectId};

fn bench(c: &mut Criterion) {
    let engine = Engine::compile(&custodian_policy::example()).unwrap();
    let subject = SubjectHasher::new(b"bench")
        .reference(&SubjectId::parse(IdKind::Email, "ada@example.com").unwrap());
    let cats: Vec<String> = ["analytics_events", "keystrokes", "website_background"]
        .map(String::from)
        .to_vec();
    let input = DecisionInput {
        subject,
        purpose: "analytics",
        categories: &cats,
        country: "DE",
        recipient: None,
        gpc: false,
        group_size: None,
    };
    c.bench_function("decide/analytics_de_no_consent", |b| {
        b.iter(|| engine.decide(black_box(&input), &NoConsents).unwrap())
    });
    let svc = DecisionInput {
        purpose: "service_email",
        categories: &[] as &[String],
        country: "DE",
        ..input.clone()
    };
    c.bench_function("decide/service_email_de_obligations", |b| {
        b.iter(|| engine.decide(black_box(&svc), &NoConsents).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
