//! The hvt build of `ringblk` (the program is in `app.rs`).
#![no_std]
#![no_main]

mod app;
