#![no_main]
//! Fuzz target `slot_header`: see `protocol/tests/decoders/mod.rs`.

#[path = "../../tests/decoders/mod.rs"]
mod decoders;

libfuzzer_sys::fuzz_target!(|data: &[u8]| decoders::slot_header(data));
