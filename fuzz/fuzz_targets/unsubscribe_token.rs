//! Feeds arbitrary bytes to one-click unsubscribe tokens: any token, and a signed one read back: see
//! `custodian_fuzz_targets::http::unsubscribe_token`, which says what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    custodian_fuzz_targets::http::unsubscribe_token(data);
});
