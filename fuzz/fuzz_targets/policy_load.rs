//! Feeds arbitrary bytes to the policy loader: it must answer, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(problems) = custodian_policy::load("fuzz.toml", text) {
            // Rendering the problems exercises the line and column arithmetic too.
            let _ = problems.to_string();
        }
    }
});
