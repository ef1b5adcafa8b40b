//! Feeds arbitrary bytes to the bodies of `POST /v1/requests` (with the intake's checks) and its verification: see
//! `custodian_fuzz_targets::http::request_body`, which says what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    custodian_fuzz_targets::http::request_body(data);
});
