//! Feeds arbitrary bytes to the body of `POST /v1/decide`, up to the decision: see
//! `custodian_fuzz_targets::http::decide_body`, which says what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    custodian_fuzz_targets::http::decide_body(data);
});
