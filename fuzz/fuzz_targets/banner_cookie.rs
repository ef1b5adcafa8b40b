//! Feeds arbitrary bytes to the banner's `cst_consent` cookie in a `Cookie` header, and its rewrite: see
//! `custodian_fuzz_targets::http::banner_cookie`, which says what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    custodian_fuzz_targets::http::banner_cookie(data);
});
