//! Feeds arbitrary bytes to the rows of `custodian consent import`: see
//! `custodian_fuzz_targets::files::consent_import_csv`, which says what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    custodian_fuzz_targets::files::consent_import_csv(data);
});
