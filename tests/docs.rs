//! The documentation that comes from the code stays what the code says.

use crate::test::Test;

#[test]
fn the_readme_host_function_table_is_what_doc_markdown_prints() {
    let out = Test::new().command(&["doc", "--markdown"]);
    out.success();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&out.stdout),
        "README.md's host function table differs from `ovscript doc --markdown`: regenerate it\n{}",
        out.stdout
    );
}
