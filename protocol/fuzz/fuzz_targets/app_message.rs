#![no_main]
//! Fuzz target `app_message`: see `protocol/tests/decoders/mod.rs`.

#[path = "../../tests/decoders/mod.rs"]
mod decoders;

libfuzzer_sys::fuzz_target!(|data: &[u8]| decoders::app_message(data));
