//! The spt build of `rust-hello` (the program is in `app.rs`).
#![no_std]
#![no_main]

mod app;
