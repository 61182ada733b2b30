# One entry point for humans and CI.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

test:
    cargo test --workspace

serve:
    cargo run --release -- serve

bench:
    bench/s3.sh
