//! The spt build of `rust-tcp` (the program is in `app.rs`).
#![no_std]
#![no_main]

mod app;
