//! docs/options.md is generated from the options registry; this fails when the file in the
//! repository is out of date, and rewrites it with `UPDATE_DOCS=1`.

use sprout_model::config::docs;

#[test]
fn docs_options_md_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/options.md");
    let want = docs::markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).expect("write docs/options.md");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/options.md is out of date with crates/sprout-model/src/config/registry.rs: run `{}`",
        docs::REGENERATE
    );
}
