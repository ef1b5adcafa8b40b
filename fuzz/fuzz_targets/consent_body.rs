//! Feeds arbitrary bytes to the bodies of `POST /v1/consent` and `POST /v1/consent/link`: see
//! `custodian_fuzz_targets::http::consent_body`, which says what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    custodian_fuzz_targets::http::consent_body(data);
});
