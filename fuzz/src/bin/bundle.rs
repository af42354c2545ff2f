//! AFL++ target `bundle`: see `sprout_fuzz::bundle`. Run with `scripts/fuzz bundle SECONDS`.

fn main() {
    afl::fuzz!(|data: &[u8]| sprout_fuzz::bundle(data));
}
