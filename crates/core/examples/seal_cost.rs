//! What sealing personal fields costs per request write, against the same write in plain
//! text: seal and open an e-mail address and 500 characters of details under a subject key,
//! and unwrap a subject key. Run by bench/retention.sh.

use std::hint::black_box;
use std::time::Instant;

use custodian_core::keys::{DataKey, MasterKey};
use custodian_core::subject::SubjectRef;

fn per_op(n: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..n / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(n)
}

fn main() {
    let n = 200_000;
    let subject = SubjectRef([7; 32]);
    let master = MasterKey::parse(&MasterKey::generate()).unwrap();
    let key = DataKey::generate();
    let wrapped = master.wrap(&subject, &key);
    let sealer = key.sealer();
    let email = "ada.lovelace@example.com";
    let details: String = "x".repeat(500);
    let plain = per_op(n, || {
        black_box(black_box(email).to_owned());
        black_box(black_box(&details).clone());
    });
    let seal = per_op(n, || {
        black_box(sealer.seal(&subject, "requests/r/email", black_box(email)));
        black_box(sealer.seal(&subject, "requests/r/details", black_box(&details)));
    });
    let e = sealer.seal(&subject, "requests/r/email", email);
    let d = sealer.seal(&subject, "requests/r/details", &details);
    let open = per_op(n, || {
        black_box(
            sealer
                .open(&subject, "requests/r/email", black_box(&e))
                .unwrap(),
        );
        black_box(
            sealer
                .open(&subject, "requests/r/details", black_box(&d))
                .unwrap(),
        );
    });
    let unwrap = per_op(n, || {
        black_box(master.unwrap(&subject, black_box(&wrapped)).unwrap());
    });
    println!(
        "{{\"plain_copy_ns\":{plain:.0},\"seal_email_and_details_ns\":{seal:.0},\"open_email_and_details_ns\":{open:.0},\"unwrap_subject_key_ns\":{unwrap:.0}}}"
    );
}
