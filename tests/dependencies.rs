//! Every dependency in `Cargo.toml` is used: a `[dependencies]` crate by the code in `src/`, a
//! `[dev-dependencies]` crate by `tests/` or `benches/`. (rustc's `unused_crate_dependencies`
//! lint reports every dependency a single test target does not use, so it cannot be turned on
//! for a crate with many targets; this check is its equivalent.)

use std::path::Path;

/// The crate names listed in `[section]` of the manifest.
fn section(manifest: &str, name: &str) -> Vec<String> {
    let header = format!("[{name}]");
    let mut inside = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == header;
            continue;
        }
        if inside
            && let Some((key, _)) = line.split_once('=')
            && !line.starts_with('#')
        {
            out.push(key.trim().replace('-', "_"));
        }
    }
    out
}

/// Every `.rs` file's text under `dir`.
fn sources(dir: &Path, out: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            out.push('\n');
        }
    }
}

fn uses(code: &str, krate: &str) -> bool {
    code.contains(&format!("{krate}::"))
        || code.contains(&format!("use {krate}"))
        || code.contains(&format!("{krate} as _"))
}

#[test]
fn every_dependency_is_used() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let mut lib = String::new();
    sources(&root.join("src"), &mut lib);
    let mut dev = lib.clone();
    sources(&root.join("tests"), &mut dev);
    sources(&root.join("benches"), &mut dev);
    let deps = section(&manifest, "dependencies");
    assert!(deps.len() > 10, "parsed {deps:?}");
    let unused: Vec<&String> = deps.iter().filter(|d| !uses(&lib, d)).collect();
    assert!(
        unused.is_empty(),
        "dependencies not used by src/: {unused:?}"
    );
    let dev_deps = section(&manifest, "dev-dependencies");
    let unused: Vec<&String> = dev_deps.iter().filter(|d| !uses(&dev, d)).collect();
    assert!(
        unused.is_empty(),
        "dev-dependencies not used by tests/ or benches/: {unused:?}"
    );
}
