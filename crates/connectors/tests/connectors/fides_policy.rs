//! Fides request policies: the most specific rule per field, every strategy applied on the
//! Fides sample database in PostgreSQL, `masking_strategy_override: delete`, and each kind of
//! bad input refused with its file and rule or field path.

use crate::helpers::{collect, count, email, fides_dir, no_holds, rand_suffix};
use crate::support;
use custodian_connectors::dataset::{Algorithm, Strategy};
use custodian_connectors::dataset_file;
use custodian_connectors::erase::{self, Operation};
use custodian_connectors::sql::Db;
use std::path::{Path, PathBuf};

pub(crate) fn policy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fides-policy")
}

fn sample_dataset() -> PathBuf {
    fides_dir().join("postgres_example_test_dataset.yml")
}

/// Writes `text` to a new file named `name` and returns its path.
pub(crate) fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("custodian-fides-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn problems_of(dataset: &Path, policy: Option<&Path>) -> Vec<String> {
    match dataset_file::load_with(dataset, policy) {
        Err(custodian_connectors::ConnectorError::Dataset { problems }) => problems,
        other => panic!("expected dataset problems, got {other:?}"),
    }
}

#[test]
fn each_field_takes_the_most_specific_rule_covering_its_category() {
    let policy = policy_dir().join("sample_erasure.yml");
    let (ds, _) = dataset_file::load_with(&sample_dataset(), Some(&policy)).unwrap();
    let field = |t: &str, f: &str| ds.table(t).unwrap().field(f).unwrap().clone();
    // user.name → string_rewrite, with its value.
    let name = field("customer", "name");
    assert_eq!(name.erase, Strategy::Rewrite);
    assert_eq!(name.masking.unwrap().value.as_deref(), Some("MASKED"));
    // user.contact.email → hash.
    let mail = field("customer", "email");
    assert_eq!(mail.erase, Strategy::Digest);
    assert_eq!(
        mail.masking
            .unwrap_or_default()
            .algorithm
            .unwrap_or_default(),
        Algorithm::Sha256
    );
    // user.contact.address.city: the city rule (depth 4) wins over the address rule (depth 3).
    assert_eq!(field("address", "city").erase, Strategy::Random);
    assert_eq!(field("address", "city").masking.unwrap().length, Some(12));
    assert_eq!(field("address", "street").erase, Strategy::Null);
    assert_eq!(field("address", "zip").erase, Strategy::Null);
    assert_eq!(field("payment_card", "ccn").erase, Strategy::Null);
    // Nothing targets user.sensor or plain `user`: left alone, as in Fides.
    assert_eq!(field("login", "time").erase, Strategy::None);
    assert_eq!(field("payment_card", "preferred").erase, Strategy::None);
    // Keys and references are never rewritten.
    assert_eq!(field("customer", "id").erase, Strategy::None);
    // The same file in JSON reads the same.
    let yaml = std::fs::read_to_string(&policy).unwrap();
    let value: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
    let json = temp_file(
        "policy.json",
        &serde_json::to_string_pretty(&value).unwrap(),
    );
    let (from_json, _) = dataset_file::load_with(&sample_dataset(), Some(&json)).unwrap();
    assert_eq!(from_json, ds);
    // Without a policy Custodian chooses, against the live column.
    let (auto, _) = dataset_file::load(&sample_dataset()).unwrap();
    assert_eq!(
        auto.table("customer").unwrap().field("name").unwrap().erase,
        Strategy::Auto
    );
}

async fn sample_db() -> Option<Db> {
    let url = support::fresh_postgres_url().await?;
    let db = Db::connect(&url).await.unwrap();
    let sql = std::fs::read_to_string(fides_dir().join("postgres_sample.sql")).unwrap();
    if let Db::Postgres(pool) = &db {
        sqlx::raw_sql(&sql).execute(pool).await.unwrap();
    }
    Some(db)
}

fn erase_op() -> Operation<'static> {
    Operation::Erase {
        hash_key: b"k",
        holds: &no_holds,
    }
}

// One scenario on the Fides sample in PostgreSQL: the policy passes the live check, erasure
// writes each rule's strategy into the subject's rows and nobody else's, and a second erasure
// changes nothing.
#[tokio::test]
async fn the_sample_policy_erases_the_sample_database_rule_by_rule() {
    let Some(db) = sample_db().await else { return };
    let policy = policy_dir().join("sample_erasure.yml");
    let (ds, _) = dataset_file::load_with(&sample_dataset(), Some(&policy)).unwrap();
    let checked = custodian_connectors::check::report(&db, &ds, None)
        .await
        .unwrap();
    // Nothing would fail; the sample's unindexed columns would only be slow (warnings, which
    // do not refuse a registration).
    assert!(checked.problems.is_empty(), "{:?}", checked.problems);
    assert!(
        checked.slow.iter().any(|p| p.contains("login.customer_id")),
        "{:?}",
        checked.slow
    );
    let ids = email("customer-1@example.com");
    let before = collect(&db, &ds, &ids).await.len();
    assert!(before > 0);
    let report = erase::apply(&db, &ds, &ids, erase_op(), false)
        .await
        .unwrap();
    assert!(report.rows_changed() > 0, "{report:?}");
    let one = |sql: &'static str| count(&db, sql);
    assert_eq!(
        one("SELECT COUNT(*) FROM customer WHERE id = 1 AND name = 'MASKED'").await,
        1
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM customer WHERE id = 1 AND email ~ '^[0-9a-f]{64}$'").await,
        1
    );
    // Addresses 1 and 2: the city a random 12, the rest of the address null.
    assert_eq!(
        one("SELECT COUNT(*) FROM address WHERE id IN (1, 2) AND city ~ '^[a-z0-9]{12}$' AND street IS NULL AND state IS NULL AND zip IS NULL AND house IS NULL").await,
        2
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM address WHERE id = 1 AND city = (SELECT city FROM address WHERE id = 2)").await,
        0,
        "each row its own random value"
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM payment_card WHERE id = 'pay_aaa-aaa' AND ccn IS NULL AND code IS NULL AND name IS NULL AND preferred IS NOT NULL").await,
        1
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM service_request WHERE id = 'ser_aaa-aaa' AND alt_email ~ '^[0-9a-f]{64}$'").await,
        1
    );
    // Untargeted: login times stay. Other customers are untouched.
    assert_eq!(
        one("SELECT COUNT(*) FROM login WHERE time IS NULL").await,
        0
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM customer WHERE email = 'customer-2@example.com' AND name <> 'MASKED'").await,
        1
    );
    let again = erase::apply(&db, &ds, &ids, erase_op(), false)
        .await
        .unwrap();
    assert_eq!(again.rows_changed(), 0, "{again:?}");
    db.close().await;
}

/// A collection whose Fides `masking_strategy_override` is `delete` loses its rows when a
/// rule targets one of its fields — and keeps them when none does.
#[tokio::test]
async fn a_delete_override_deletes_the_rows_of_a_targeted_collection() {
    let Some(db) = sample_db().await else { return };
    let sample = std::fs::read_to_string(sample_dataset()).unwrap();
    let with_delete = sample.replacen(
        "      - name: login\n",
        "      - name: login\n        fides_meta:\n          masking_strategy_override:\n            strategy: delete\n",
        1,
    );
    assert_ne!(with_delete, sample);
    let dataset = temp_file("dataset.yml", &with_delete);
    // The sample policy targets nothing of `login` (user.sensor, user.unique_id): kept.
    let (kept, _) =
        dataset_file::load_with(&dataset, Some(&policy_dir().join("sample_erasure.yml"))).unwrap();
    assert_eq!(
        kept.table("login").unwrap().field("time").unwrap().erase,
        Strategy::None
    );
    let sensor = temp_file(
        "policy.yml",
        "key: sensors\nrules:\n  - key: null_sensors\n    action_type: erasure\n    masking_strategy: {strategy: null_rewrite, configuration: {}}\n    targets: [{data_category: user.sensor}]\n",
    );
    let (ds, _) = dataset_file::load_with(&dataset, Some(&sensor)).unwrap();
    assert_eq!(
        ds.table("login").unwrap().field("time").unwrap().erase,
        Strategy::DeleteRow
    );
    let logins = count(&db, "SELECT COUNT(*) FROM login").await;
    let report = erase::apply(
        &db,
        &ds,
        &email("customer-1@example.com"),
        erase_op(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM login WHERE customer_id = 1").await,
        0
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM login").await,
        logins - 6,
        "{report:?}"
    );
    db.close().await;
}

#[test]
fn bad_policies_are_refused_with_their_file_and_rule_path() {
    let dataset = sample_dataset();
    let unknown = temp_file(
        "unknown.json",
        r#"{"key": "p", "rules": [{"key": "scramble_names", "action_type": "erasure",
            "masking_strategy": {"strategy": "scramble", "configuration": {}},
            "targets": [{"data_category": "user.name"}]}]}"#,
    );
    let p = problems_of(&dataset, Some(&unknown));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with(&unknown.display().to_string()), "{p:?}");
    assert!(
        p[0].contains(
            "rules[0] (scramble_names).masking_strategy.strategy: unknown strategy `scramble`"
        ),
        "{p:?}"
    );

    let no_targets = temp_file(
        "no-targets.yml",
        "key: p\nrules:\n  - key: ok\n    action_type: erasure\n    masking_strategy: {strategy: null_rewrite}\n    targets: [{data_category: user.name}]\n  - key: nothing\n    action_type: erasure\n    masking_strategy: {strategy: null_rewrite}\n    targets: []\n  - key: missing\n    action_type: erasure\n    masking_strategy: {strategy: hmac, configuration: {algorithm: MD5}}\n",
    );
    let p = problems_of(&dataset, Some(&no_targets));
    let at = no_targets.display().to_string();
    assert!(p.contains(&format!("{at}: rules[1] (nothing).targets: the rule has no targets, so it would erase nothing; add `targets: [{{data_category: ...}}]`")), "{p:?}");
    assert!(
        p.iter().any(|m| m.starts_with(&format!(
            "{at}: rules[2] (missing).masking_strategy.configuration.algorithm"
        ))),
        "{p:?}"
    );

    let stranger = temp_file(
        "stranger.yml",
        "key: p\nrules:\n  - key: faces\n    action_type: erasure\n    masking_strategy: {strategy: null_rewrite}\n    targets: [{data_category: user.name}, {data_category: user.biometric}]\n",
    );
    let p = problems_of(&dataset, Some(&stranger));
    assert_eq!(
        p,
        vec![format!("{}: rules[0] (faces).targets[1]: no field of dataset postgres_example_test_dataset has the data category `user.biometric` or one under it", stranger.display())]
    );
    // A Fides policy with a Custodian dataset is a mistake, said so.
    let company = crate::helpers::root().join("examples/company/company.toml");
    let p = problems_of(&company, Some(&policy_dir().join("sample_erasure.yml")));
    assert!(
        p[0].contains("a Fides policy applies to a Fides dataset"),
        "{p:?}"
    );
}

#[test]
fn a_dataset_whose_references_form_a_cycle_is_refused_with_its_file_and_fields() {
    let cyclic = temp_file(
        "cyclic.toml",
        r#"name = "cyclic"
[[tables]]
name = "people"
primary_key = "id"
fields = [
  { name = "id" },
  { name = "email", category = "website_user", identity = "email", erase = "null" },
  { name = "team_id", references = "teams.id" },
]
[[tables]]
name = "teams"
primary_key = "id"
fields = [
  { name = "id" },
  { name = "lead_id", references = "people.id" },
]
"#,
    );
    let p = problems_of(&cyclic, None);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with(&format!("{}: tables ", cyclic.display())),
        "{p:?}"
    );
    assert!(p[0].contains("people.team_id → teams.id"), "{p:?}");
    assert!(p[0].contains("teams.lead_id → people.id"), "{p:?}");
    assert!(p[0].contains("form a cycle"), "{p:?}");
    // A field-level override with an unknown strategy is located by its field.
    let sample = std::fs::read_to_string(sample_dataset()).unwrap();
    let odd = sample.replacen(
        "          - name: name\n            data_categories: [user.name]\n            fides_meta:\n              data_type: string\n              length: 40\n",
        "          - name: name\n            data_categories: [user.name]\n            fides_meta:\n              data_type: string\n              masking_strategy_override: {strategy: shuffle}\n",
        1,
    );
    assert_ne!(odd, sample);
    let odd = temp_file("odd.yml", &odd);
    let p = problems_of(&odd, Some(&policy_dir().join("sample_erasure.yml")));
    assert_eq!(
        p,
        vec![format!("{}: field customer.name: fides_meta.masking_strategy_override.strategy: unknown strategy `shuffle`; Custodian applies null_rewrite, string_rewrite, random_string_rewrite, hash, hmac", odd.display())]
    );
}
