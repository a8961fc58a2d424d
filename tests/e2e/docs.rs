//! The outputs the docs show are real: a test that produces one checks that the doc's block after
//! `<!-- output: NAME -->` is exactly what the run printed. `OFFINFRA_BLESS_DOCS=1` rewrites the block
//! instead (review the diff before committing it).

use std::path::PathBuf;

/// Checks (or, blessing, rewrites) the fenced block that follows `<!-- output: {name} -->` in `docs/{file}`.
#[track_caller]
pub fn shown_in(file: &str, name: &str, output: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let marker = format!("<!-- output: {name} -->\n");
    let at = text.find(&marker).unwrap_or_else(|| panic!("{} has no {marker}", path.display())) + marker.len();
    let open = text[at..].find('\n').map(|n| at + n + 1).unwrap_or_else(|| panic!("{file}: {name}: no block"));
    assert!(text[at..open].starts_with("```"), "{file}: {name}: a fenced block follows the marker");
    let close = open + text[open..].find("```\n").unwrap_or_else(|| panic!("{file}: {name}: unclosed block"));
    if std::env::var_os("OFFINFRA_BLESS_DOCS").is_some() {
        let blessed = format!("{}{output}{}", &text[..open], &text[close..]);
        std::fs::write(&path, blessed).unwrap();
        return;
    }
    assert_eq!(
        &text[open..close],
        output,
        "docs/{file} shows another output for {name} (OFFINFRA_BLESS_DOCS=1 rewrites it)"
    );
}
