//! What the first draw from aws-lc's random generator costs in a fresh
//! process: the generator seeds itself then, which every function does at
//! its first random id or its first TLS connection (to DynamoDB, in AWS),
//! so the cost lands on an instance's first real request, not on the
//! benchmark's unknown route. Prints the first and a second 16-byte draw.
//!
//! `cargo run --release -p coldstart --bin first-random` (bench/coldstart.sh runs it 15 times).

use std::time::Instant;

fn main() {
    let mut bytes = [0u8; 16];
    let started = Instant::now();
    aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
    let first = started.elapsed();
    let started = Instant::now();
    aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
    let second = started.elapsed();
    println!("{:.3} {:.3}", first.as_secs_f64() * 1e3, second.as_secs_f64() * 1e3);
}
