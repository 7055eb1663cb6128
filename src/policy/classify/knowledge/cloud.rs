//! Cloud and infrastructure CLIs judged by verb (see [`super::verbs`]): aws, gcloud, az,
//! terraform/tofu, pulumi, virsh, gh, vault, consul, nomad, openstack, doctl, hcloud, eksctl,
//! kind, minikube, crictl, ctr, lxc/incus, vagrant, argocd, flux, istioctl, redis-cli,
//! etcdctl, mysqladmin, go. Options that send credentials or requests elsewhere are tagged `R`
//! in the grammars; the undeclared ones are API parameters.

use super::programs::{Call, Class::*, Decl, judged};
use super::verbs;
use crate::policy::Tier::{Irreversible as T3, Reversible as T1, Stateful as T2};

/// Words of this call's arguments (options included), from word `from`.
pub(super) fn raw(c: &Call<'_>) -> Vec<String> {
    c.args().iter().map(|w| w.text.clone()).collect()
}

fn aws(c: &mut Call<'_>) {
    let ops = c.operand_texts();
    let (service, op) = (
        ops.first().copied().unwrap_or(""),
        ops.get(1).copied().unwrap_or(""),
    );
    match (service, op) {
        ("", _) | ("help", _) | (_, "help") => c.describe("aws prints help"),
        ("s3", "ls" | "presign") => c.describe(format!("aws s3 {op} reads only")),
        ("s3", "rm" | "rb") => c.raise(T3, format!("aws s3 {op} deletes objects or buckets")),
        ("s3", "sync") if raw(c).iter().any(|w| w == "--delete") => {
            c.raise(T3, "aws s3 sync --delete deletes objects")
        }
        ("configure", "") => c.raise(T2, "aws configure writes credentials"),
        ("configure", "list" | "get" | "list-profiles" | "export-credentials") => {
            c.describe(format!("aws configure {op} reads only"))
        }
        // Streaming operations write their output to a file named last.
        (
            _,
            "get-object"
            | "get-object-torrent"
            | "get-media"
            | "get-media-for-fragment-list"
            | "get-job-output"
            | "get-snapshot-block"
            | "get-clip"
            | "get-images",
        ) => {
            c.raise(
                T1,
                format!("aws {service} {op} writes its output to a file"),
            );
            if let Some(&out) = c.operands().last().filter(|_| c.operands().len() > 2) {
                c.write_operand(out, false);
            }
        }
        _ => match verbs::verb(op, false) {
            Some(v) => verbs::apply(c, &format!("aws {service} {op}"), v),
            None => c.raise(
                T2,
                format!("aws {service} {op} is not known to be read-only"),
            ),
        },
    }
}

fn gcloud(c: &mut Call<'_>) {
    let ops = c.operand_texts();
    // Every run writes gcloud's configuration and a log under ~/.config/gcloud (the oracle
    // sees it): tier 1 at least.
    c.raise(T1, "gcloud writes its configuration and logs on every run");
    if ops.is_empty() || matches!(ops.as_slice(), ["info" | "version" | "help" | "topic", ..]) {
        return;
    }
    verbs::by_worst_verb(c, &["run", "deploy", "alpha", "beta"]);
    // `gcloud compute ssh VM -- CMD…`: the words after `--` run on the instance.
    let end = c.parsed.items.iter().find_map(|i| match i {
        crate::policy::options::Item::EndOfOptions { at } => Some(*at),
        _ => None,
    });
    if let Some(at) = end.filter(|at| at + 1 < c.args().len()) {
        let (start, stop) = (c.index(at + 1), c.index(c.args().len()));
        c.j.inner.push(super::Inner::ShellJoin { start, end: stop });
    }
}

fn az(c: &mut Call<'_>) {
    if matches!(
        c.operand_texts().as_slice(),
        ["version" | "help" | "find", ..]
    ) {
        return;
    }
    verbs::by_worst_verb(c, &["lock", "tag"]);
}

fn terraform(c: &mut Call<'_>) {
    let name = c.name.to_string();
    let words = raw(c);
    let ops = c.operand_texts();
    let sub = ops.first().copied().unwrap_or("");
    let second = ops.get(1).copied().unwrap_or("");
    let destroy_flag = words.iter().any(|w| w == "-destroy" || w == "--destroy");
    // Every invocation may write a checkpoint signature under ~/.terraform.d, `-help`
    // included (the oracle saw it).
    c.raise(
        T1,
        format!("{name} writes its checkpoint file under ~/.terraform.d"),
    );
    match (sub, second) {
        ("", _) => {}
        ("show" | "output" | "version" | "providers" | "graph" | "metadata" | "modules", _)
        | ("state", "list" | "show" | "pull")
        | ("workspace", "list" | "show") => c.describe(format!("{name} {sub} reads only")),
        ("plan", _) => c.raise(T1, format!("{name} plan locks state and runs providers")),
        ("validate", _) => c.raise(T1, format!("{name} validate runs providers")),
        ("fmt", _) if words.iter().any(|w| w == "-check" || w == "--check") => {
            c.describe(format!("{name} fmt -check reads only"))
        }
        ("fmt", _) => c.raise(T1, format!("{name} fmt rewrites files")),
        ("destroy", _) | ("apply", _) if sub == "destroy" || destroy_flag => {
            c.raise(T3, format!("{name} destroys infrastructure"))
        }
        ("state", "rm") | ("workspace", "delete") => {
            c.raise(T3, format!("{name} {sub} {second} deletes state"))
        }
        _ => c.raise(T2, format!("{name} {sub} changes infrastructure or state")),
    }
    // `-out=FILE` / `-out FILE`, `-state-out`, `-backup`: files written.
    for (i, w) in words.iter().enumerate() {
        for flag in ["-out", "-state-out", "-backup", "--out"] {
            if let Some(v) = w.strip_prefix(&format!("{flag}=")) {
                let start = w.len() - v.len();
                c.write_to(crate::policy::options::Value { at: i, start }, false);
            } else if w == flag && i + 1 < words.len() {
                c.write_operand(i + 1, false);
            }
        }
    }
}

fn pulumi(c: &mut Call<'_>) {
    let ops = c.operand_texts();
    let preview_only = raw(c).iter().any(|w| w == "--preview-only");
    match ops.as_slice() {
        [] => c.describe("pulumi prints help"),
        ["preview", ..] => c.raise(T1, "pulumi preview runs the program"),
        ["config"] => c.describe("pulumi config reads only"),
        ["destroy" | "refresh", ..] if preview_only => {
            c.raise(T1, "pulumi --preview-only changes nothing")
        }
        _ => {
            verbs::by_first_verb(
                c,
                2,
                &[
                    "stack",
                    "config",
                    "state",
                    "plugin",
                    "org",
                    "policy",
                    "schema",
                    "package",
                    "env",
                    "template",
                    "ai",
                    "deployment",
                    "console",
                ],
            );
        }
    }
}

pub(super) const DECLS: &[Decl] = &[
    judged(
        &["aws"],
        Api,
        "--debug --endpoint-url=!R --no-verify-ssl!R --no-paginate --output= --query= --profile= --region= --version!h --color= --no-sign-request --ca-bundle=!R --cli-read-timeout= --cli-connect-timeout= --cli-binary-format= --no-cli-pager --cli-auto-prompt --no-cli-auto-prompt --cli-input-json= --cli-input-yaml= --generate-cli-skeleton=?",
        aws,
    ),
    judged(
        &["gcloud"],
        Api,
        "@no-abbrev --account= --billing-project= --configuration= --flags-file=!r --flatten= --format= --help -h --impersonate-service-account= --log-http --project= --quiet -q --trace-token= --user-output-enabled=? --verbosity= --version --access-token-file=!R --command=!c --zone= --region= --limit= --filter= --sort-by= --page-size= --uri",
        gcloud,
    ),
    judged(
        &["az"],
        Api,
        "@no-abbrev --debug --only-show-errors -o:,--output= --query= --subscription= --verbose -h,--help!h --version!h -g:,--resource-group= -n:,--name= --yes -y",
        az,
    ),
    judged(
        &["terraform", "tofu", "terragrunt"],
        Api,
        // `-help` is not tagged as help: terraform writes its checkpoint file even then.
        "@go -chdir=!C -help -h -version -v",
        terraform,
    ),
    judged(
        &["pulumi"],
        Api,
        "@no-abbrev -C:,--cwd= -s:,--stack= --color= --non-interactive -v: --verbose= --logtostderr --logflow --tracing= --profiling= --emoji --fully-qualify-stack-names --disable-integrity-checking --memprofilerate= -y,--yes --skip-preview -h,--help!h -j,--json --show-secrets",
        pulumi,
    ),
];
