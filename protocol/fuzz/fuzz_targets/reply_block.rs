#![no_main]
//! Fuzz target `reply_block`: see `protocol/tests/decoders/mod.rs`.

#[path = "../../tests/decoders/mod.rs"]
mod decoders;

libfuzzer_sys::fuzz_target!(|data: &[u8]| decoders::reply_block(data));
