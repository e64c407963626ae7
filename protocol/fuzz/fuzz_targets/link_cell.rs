#![no_main]
//! Fuzz target `link_cell`: see `protocol/tests/decoders/mod.rs`.

#[path = "../../tests/decoders/mod.rs"]
mod decoders;

libfuzzer_sys::fuzz_target!(|data: &[u8]| decoders::link_cell(data));
