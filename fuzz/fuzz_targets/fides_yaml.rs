//! Feeds arbitrary bytes to Fides YAML datasets and Fides erasure policies: see
//! `custodian_fuzz_targets::files::fides_yaml`, which says what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    custodian_fuzz_targets::files::fides_yaml(data);
});
