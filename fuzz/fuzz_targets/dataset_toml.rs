//! Feeds arbitrary bytes to dataset files: Custodian TOML, or Fides YAML by its first key: see
//! `custodian_fuzz_targets::files::dataset_toml`, which says what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    custodian_fuzz_targets::files::dataset_toml(data);
});
