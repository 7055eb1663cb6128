//! `--verify-deploy`: compare the deploy templates shipped with this build against the files
//! installed on the host, byte for byte.
//!
//! The templates (`deploy/` in the repository) are compiled into the binary, so a binary
//! always knows what it was shipped with; `--templates-dir` compares against another copy.
//! `--install-prefix` treats a directory as the root of the install paths (a staged install,
//! a container image). Four templates are required, as in the Python implementation; the
//! optional ones (the scoped drop-in, the shipper configurations) are compared when they are
//! installed and reported `NOT_INSTALLED` otherwise, which is not a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::audit::Json;

/// The first line `deploy/install.sh --edge` writes into `/etc/caddy/Caddyfile`.
pub const EDGE_MARKER: &str = "# relay-shell:install-edge:managed";

/// One shipped template and where it is installed.
#[derive(Clone, Copy, Debug)]
pub struct Template {
    /// Short name in reports.
    pub name: &'static str,
    /// Path relative to the templates directory.
    pub template: &'static str,
    /// Absolute install path.
    pub install_path: &'static str,
    /// Whether a missing installed file fails verification.
    pub required: bool,
    /// The content this binary was built with.
    pub shipped: &'static str,
}

/// Every template, in report order.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "systemd-unit",
        template: "systemd/relay-shell.service",
        install_path: "/etc/systemd/system/relay-shell.service",
        required: true,
        shipped: include_str!("../deploy/systemd/relay-shell.service"),
    },
    Template {
        name: "systemd-hardening",
        template: "systemd/relay-shell.service.d/hardening.conf",
        install_path: "/etc/systemd/system/relay-shell.service.d/hardening.conf",
        required: true,
        shipped: include_str!("../deploy/systemd/relay-shell.service.d/hardening.conf"),
    },
    Template {
        name: "logrotate",
        template: "logrotate/relay-shell",
        install_path: "/etc/logrotate.d/relay-shell",
        required: true,
        shipped: include_str!("../deploy/logrotate/relay-shell"),
    },
    Template {
        name: "caddyfile",
        template: "Caddyfile",
        install_path: "/etc/caddy/Caddyfile",
        required: true,
        shipped: include_str!("../deploy/Caddyfile"),
    },
    Template {
        name: "systemd-scoped",
        template: "systemd/relay-shell.service.d/scoped.conf",
        install_path: "/etc/systemd/system/relay-shell.service.d/scoped.conf",
        required: false,
        shipped: include_str!("../deploy/systemd/relay-shell.service.d/scoped.conf"),
    },
    Template {
        name: "rsyslog",
        template: "rsyslog/relay-shell.conf",
        install_path: "/etc/rsyslog.d/30-relay-shell.conf",
        required: false,
        shipped: include_str!("../deploy/rsyslog/relay-shell.conf"),
    },
    Template {
        name: "vector",
        template: "vector/relay-shell.yaml",
        install_path: "/etc/vector/relay-shell.yaml",
        required: false,
        shipped: include_str!("../deploy/vector/relay-shell.yaml"),
    },
];

/// The outcome for one template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Installed and identical.
    Ok,
    /// Installed and different.
    Drift,
    /// A required file is not installed (or cannot be read).
    Missing,
    /// An optional file is not installed.
    NotInstalled,
    /// The template itself is missing from `--templates-dir`.
    AbsentTemplate,
}

impl Status {
    /// The report spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Drift => "DRIFT",
            Status::Missing => "MISSING",
            Status::NotInstalled => "NOT_INSTALLED",
            Status::AbsentTemplate => "ABSENT_TEMPLATE",
        }
    }

    /// Whether this status passes verification.
    pub fn passes(self) -> bool {
        matches!(self, Status::Ok | Status::NotInstalled)
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The template's name.
    pub name: &'static str,
    /// Where the template was read from (`<built-in>/…` for the compiled-in copy).
    pub template: String,
    /// The install path (under the prefix, if any).
    pub install_path: String,
    /// The outcome.
    pub status: Status,
    /// Why, when not OK (empty when OK).
    pub detail: String,
}

/// Where the templates come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// The copy compiled into this binary.
    BuiltIn,
    /// A directory laid out like `deploy/`.
    Dir(PathBuf),
}

/// What the installed Caddyfile is compared as: without the installer's marker line and the
/// newlines after it.
fn strip_edge_marker(installed: &str) -> &str {
    match installed.strip_prefix(EDGE_MARKER) {
        Some(rest) if rest.is_empty() || rest.starts_with('\n') || rest.starts_with("\r\n") => {
            rest.trim_start_matches(['\r', '\n'])
        }
        _ => installed,
    }
}

/// Compare one template with its installed file.
pub fn check(t: &Template, source: &Source, prefix: Option<&Path>) -> Finding {
    let install = match prefix {
        Some(p) => p.join(t.install_path.trim_start_matches('/')),
        None => PathBuf::from(t.install_path),
    };
    let mut f = Finding {
        name: t.name,
        template: String::new(),
        install_path: install.display().to_string(),
        status: Status::Ok,
        detail: String::new(),
    };
    let template: String = match source {
        Source::BuiltIn => {
            f.template = format!("<built-in>/{}", t.template);
            t.shipped.to_string()
        }
        Source::Dir(dir) => {
            let path = dir.join(t.template);
            f.template = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(s) => s,
                Err(_) => {
                    f.status = Status::AbsentTemplate;
                    f.detail = format!("template file {} not found", path.display());
                    return f;
                }
            }
        }
    };
    let installed = match std::fs::read(&install) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if t.required {
                f.status = Status::Missing;
                f.detail = format!("{} does not exist", install.display());
            } else {
                f.status = Status::NotInstalled;
                f.detail = "optional; not installed".into();
            }
            return f;
        }
        Err(e) => {
            f.status = Status::Missing;
            f.detail = format!("could not read: {e}");
            return f;
        }
    };
    let compared = if t.name == "caddyfile" {
        strip_edge_marker(&installed)
    } else {
        &installed
    };
    if compared != template {
        f.status = Status::Drift;
        f.detail = format!(
            "deployed content does not match template; first difference at line {}",
            first_difference(compared, &template)
        );
    }
    f
}

/// The 1-based line of `a` where it first differs from `b`.
fn first_difference(a: &str, b: &str) -> usize {
    let mut la = a.split_inclusive('\n');
    let mut lb = b.split_inclusive('\n');
    let mut n = 1;
    loop {
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            _ => return n,
        }
    }
}

/// Check every template.
pub fn verify(source: &Source, prefix: Option<&Path>) -> Vec<Finding> {
    TEMPLATES.iter().map(|t| check(t, source, prefix)).collect()
}

/// The human report: one line per template, `name  STATUS  path  (detail)`.
pub fn to_text(findings: &[Finding]) -> String {
    let name_w = TEMPLATES.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let status_w = Status::AbsentTemplate.as_str().len();
    let mut out = String::new();
    for f in findings {
        let line = format!(
            "{:<name_w$}  {:<status_w$}  {}",
            f.name,
            f.status.as_str(),
            f.install_path
        );
        out.push_str(line.trim_end());
        if f.status != Status::Ok {
            out.push_str(&format!("  ({})", f.detail));
        }
        out.push('\n');
    }
    out
}

/// The `--json` document: `{"ok", "findings": [{name, template, install_path, status,
/// detail}]}`.
pub fn to_json(findings: &[Finding]) -> Json {
    let ok = findings.iter().all(|f| f.status.passes());
    let list = findings
        .iter()
        .map(|f| {
            Json::Obj(vec![
                ("name".into(), Json::Str(f.name.into())),
                ("template".into(), Json::Str(f.template.clone())),
                ("install_path".into(), Json::Str(f.install_path.clone())),
                ("status".into(), Json::Str(f.status.as_str().into())),
                ("detail".into(), Json::Str(f.detail.clone())),
            ])
        })
        .collect();
    Json::Obj(vec![
        ("ok".into(), Json::Bool(ok)),
        ("findings".into(), Json::Arr(list)),
    ])
}

/// The stderr summary line.
pub fn summary(findings: &[Finding]) -> String {
    if findings.iter().all(|f| f.status.passes()) {
        return "relay-shell: verify-deploy OK".into();
    }
    let count = |s: Status| findings.iter().filter(|f| f.status == s).count();
    format!(
        "relay-shell: verify-deploy FAILED (drift={}, missing={}, absent_template={})",
        count(Status::Drift),
        count(Status::Missing),
        count(Status::AbsentTemplate)
    )
}

/// Run `--verify-deploy`: the report on stdout, the OK/FAILED line on stderr; exit 0 when
/// every required template is installed unchanged, else 2.
pub fn run_cli(templates_dir: Option<&Path>, prefix: Option<&Path>, json: bool) -> ExitCode {
    let source = match templates_dir {
        Some(d) => Source::Dir(d.to_path_buf()),
        None => Source::BuiltIn,
    };
    let findings = verify(&source, prefix);
    let body = if json {
        let mut s = to_json(&findings).to_pretty();
        s.push('\n');
        s
    } else {
        to_text(&findings)
    };
    let _ = std::io::stdout().lock().write_all(body.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = writeln!(std::io::stderr().lock(), "{}", summary(&findings));
    if findings.iter().all(|f| f.status.passes()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_templates_are_the_repository_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
        for t in TEMPLATES {
            let on_disk = std::fs::read_to_string(root.join(t.template)).expect("template"); // ok: test
            assert_eq!(on_disk, t.shipped, "{}", t.template);
        }
    }

    #[test]
    fn the_edge_marker_is_stripped_only_as_a_whole_first_line() {
        assert_eq!(strip_edge_marker(&format!("{EDGE_MARKER}\n\nabc")), "abc");
        assert_eq!(strip_edge_marker(&format!("{EDGE_MARKER}\r\nabc")), "abc");
        assert_eq!(strip_edge_marker(EDGE_MARKER), "");
        let glued = format!("{EDGE_MARKER}x\nabc");
        assert_eq!(strip_edge_marker(&glued), glued);
        assert_eq!(strip_edge_marker("abc"), "abc");
    }
}
