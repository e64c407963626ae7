#![no_main]
//! Fuzz target `quote_receipt`: see `protocol/tests/decoders/mod.rs`.

#[path = "../../tests/decoders/mod.rs"]
mod decoders;

libfuzzer_sys::fuzz_target!(|data: &[u8]| decoders::quote_receipt(data));
