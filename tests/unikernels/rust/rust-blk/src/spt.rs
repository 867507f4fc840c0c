//! The spt build of `rust-blk` (the program is in `app.rs`).
#![no_std]
#![no_main]

mod app;
