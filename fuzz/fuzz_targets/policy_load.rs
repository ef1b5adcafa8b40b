//! Feeds arbitrary bytes to the policy loader (`policy.toml`): see
//! `custodian_fuzz_targets::files::policy_load`, which says what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    custodian_fuzz_targets::files::policy_load(data);
});
