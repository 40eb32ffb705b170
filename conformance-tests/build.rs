//! Generates the case registry from `src/cases/*.rs`.
//!
//! Every file of `src/cases` is one group. Its first line names the features
//! the group needs: `// conformance-group: requires = [Core, Roles]`. Every
//! `pub async fn NAME(s: Subject) -> CaseResult` in it is one case. The build
//! writes the module declarations, the runtime registry and the list that the
//! `conformance_tests!` macro expands, so adding a case is adding a function.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("src/cases");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("src/cases exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| p.file_stem().is_some_and(|s| s != "mod"))
        .collect();
    files.sort();

    let mut mods = String::new();
    let mut registry = String::from(
        "/// Every case, in group order.\npub fn all_cases() -> Vec<Case> {\n    vec![\n",
    );
    let mut list = String::new();
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let group = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name");
        let text = fs::read_to_string(path).expect("readable case file");
        let first = text.lines().next().unwrap_or_default();
        let requires = first
            .strip_prefix("// conformance-group: requires = [")
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or_else(|| {
                panic!(
                    "{}: first line must be `// conformance-group: requires = [..]`",
                    path.display()
                )
            });
        let requires: Vec<&str> = requires
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("pub async fn "))
            .filter_map(|l| l.split('(').next())
            .collect();
        writeln!(
            mods,
            "#[path = {:?}]\npub mod {group};",
            path.display().to_string()
        )
        .unwrap();
        let req_paths: Vec<String> = requires.iter().map(|r| format!("Feature::{r}")).collect();
        for n in &names {
            writeln!(
                registry,
                "        Case {{ group: {group:?}, name: {n:?}, requires: &[{}], run: |s| Box::pin(crate::cases::{group}::{n}(s)) }},",
                req_paths.join(", ")
            )
            .unwrap();
        }
        writeln!(
            list,
            "        {group} [{}] {{ {} }}",
            requires.join(", "),
            names.join(", ")
        )
        .unwrap();
    }
    registry.push_str("    ]\n}\n");
    let macro_text = format!(
        "#[doc(hidden)]\n#[macro_export]\nmacro_rules! __for_each_case {{\n    ($cb:path; $($args:tt)*) => {{\n        $cb! {{ [$($args)*]\n{list}        }}\n    }};\n}}\n"
    );
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).to_path_buf();
    fs::write(out.join("case_mods.rs"), mods).expect("write case_mods.rs");
    fs::write(out.join("registry.rs"), registry).expect("write registry.rs");
    fs::write(out.join("case_list.rs"), macro_text).expect("write case_list.rs");
}
