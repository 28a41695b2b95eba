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

#[test]
fn doc_of_one_function_is_exactly_its_signature_help_and_example() {
    let out = Test::new().command(&["doc", "confirm"]);
    out.success();
    assert_eq!(
        out.stdout,
        "functions\n  confirm(question: String) -> bool\n      Asks a yes/no question at the terminal (default no). `--yes` answers yes; with no terminal and no `--yes` it is an error, never an assumed yes.\n      e.g. if !confirm(\"Publish \" + draft.tag_name + \"?\") { throw \"stopped by the operator\"; }\n"
    );
}

#[test]
fn check_reports_exactly_each_problem_and_their_count() {
    let out = Test::new()
        .script("let x = 1;\nairflow.pause();\nstepp(\"a\", || 1);\n")
        .command(&["check", "script.rhai"]);
    out.code(2);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "script.rhai:2:9: airflow.pause(...) with 0 argument(s) matches no signature; it can be called as airflow.pause(dag_id: string) -> bool\nscript.rhai:3:1: unknown function stepp (did you mean step?)\n2 problem(s) found\n"
    );
}
