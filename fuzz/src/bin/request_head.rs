//! AFL++ target `request_head`: see `sprout_fuzz::request_head`. Run with `scripts/fuzz request_head SECONDS`.

fn main() {
    afl::fuzz!(|data: &[u8]| sprout_fuzz::request_head(data));
}
