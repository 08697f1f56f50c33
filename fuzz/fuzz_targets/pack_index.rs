//! Fuzz target: see snapper_testkit::fuzz::pack_index for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| snapper_testkit::fuzz::pack_index(data));
