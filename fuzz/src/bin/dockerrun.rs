//! AFL++ target `dockerrun`: see `sprout_fuzz::dockerrun`. Run with `scripts/fuzz dockerrun SECONDS`.

fn main() {
    afl::fuzz!(|data: &[u8]| sprout_fuzz::dockerrun(data));
}
