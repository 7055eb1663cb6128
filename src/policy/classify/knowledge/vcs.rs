//! Version control and orchestration tools: `git`, `docker`/`podman`, `kubectl`/`helm` — by
//! subcommand, with the flags that turn a read into a write or a code run.

use super::{Inner, Judgement, first_operand, has_long, has_prefix, has_short, has_word};
use crate::policy::Tier;
use crate::policy::classify::words::Word;

use Tier::{Irreversible as T3, ReadOnly as T0, Reversible as T1, Stateful as T2};

fn j(tier: Tier, rule: impl Into<String>) -> Option<Judgement> {
    Some(Judgement::data(tier, rule))
}

pub(super) fn git(args: &[Word]) -> Option<Judgement> {
    // `-c key=value` and `--config-env` can set core.pager, core.sshCommand, aliases with `!`:
    // any of them may run a program.
    if has_word(args, "-c") || has_prefix(args, "--config-env") || has_prefix(args, "--exec-path=")
    {
        let mut j = Judgement::data(T2, "git -c/--config-env can make git run a program");
        j.opaque_args = (0..args.len()).collect();
        return Some(j);
    }
    let Some((i, sub)) = first_operand(args, &["-C", "--git-dir", "--work-tree", "--namespace"])
    else {
        return j(T0, "git with no subcommand prints help");
    };
    let rest = &args[i + 1..];
    let sub = sub.text.as_str();
    let runs_program = [
        "ext-diff",
        "textconv",
        "output",
        "exec",
        "upload-pack",
        "receive-pack",
        "open-files-in-pager",
    ]
    .iter()
    .any(|l| has_long(rest, l));
    match sub {
        "status" | "log" | "diff" | "show" | "blame" | "rev-parse" | "ls-files" | "ls-tree"
        | "describe" | "shortlog" | "rev-list" | "cat-file" | "grep" | "reflog" | "whatchanged"
        | "annotate" | "count-objects" | "name-rev" | "merge-base" | "for-each-ref"
        | "show-ref" | "ls-remote" | "version" | "help" | "check-ignore" | "cherry"
        | "range-diff" | "verify-commit" | "verify-tag" | "fsck" => {
            if runs_program {
                j(
                    T2,
                    format!("git {sub} with --ext-diff/--textconv/--output/--exec"),
                )
            } else if sub == "reflog"
                && rest
                    .first()
                    .is_some_and(|w| matches!(w.text.as_str(), "expire" | "delete"))
            {
                j(T3, "git reflog expire/delete drops history")
            } else {
                j(T0, format!("git {sub} reads only"))
            }
        }
        "branch" | "tag" | "remote" | "stash" | "config" | "worktree" | "notes" | "submodule" => {
            let listing = (rest.is_empty() && sub != "stash")
                || rest.iter().all(|w| w.text.starts_with('-'))
                    && [
                        "-l",
                        "--list",
                        "-a",
                        "-r",
                        "-v",
                        "-vv",
                        "--all",
                        "--show-current",
                        "--get",
                        "--get-all",
                        "--get-regexp",
                        "--show-origin",
                        "--contains",
                        "--merged",
                        "--no-merged",
                    ]
                    .iter()
                    .any(|f| has_word(rest, f))
                || matches!(
                    rest.first().map(|w| w.text.as_str()),
                    Some("list" | "show" | "-v" | "get-url")
                );
            let destroys = has_short(rest, 'D')
                || (sub == "stash"
                    && rest
                        .first()
                        .is_some_and(|w| matches!(w.text.as_str(), "drop" | "clear")))
                || (sub == "branch" && has_short(rest, 'd') && has_short(rest, 'f'));
            if destroys {
                j(
                    T3,
                    format!("git {sub} deletes refs or stashes irrecoverably"),
                )
            } else if listing {
                j(T0, format!("git {sub} lists"))
            } else {
                j(T1, format!("git {sub} changes repository metadata"))
            }
        }
        "push" => {
            let force = has_short(rest, 'f')
                || has_long(rest, "force")
                || has_prefix(rest, "--force")
                || has_long(rest, "mirror")
                || has_short(rest, 'd')
                || has_long(rest, "delete")
                || rest
                    .iter()
                    .any(|w| w.text.starts_with('+') || w.text.starts_with(':'));
            if force {
                j(
                    T3,
                    "git push --force/+ref/--delete rewrites or deletes remote history",
                )
            } else {
                j(T2, "git push publishes commits")
            }
        }
        "reset" if has_long(rest, "hard") => j(T3, "git reset --hard discards work"),
        "clean" if has_short(rest, 'f') || has_long(rest, "force") => {
            j(T3, "git clean -f deletes untracked files")
        }
        "checkout" | "restore" | "switch"
            if has_short(rest, 'f')
                || has_long(rest, "force")
                || rest.iter().any(|w| w.text == "--" || w.text == ".") =>
        {
            j(T2, format!("git {sub} discards local changes"))
        }
        "filter-branch" | "filter-repo" | "gc" | "prune"
            if sub != "gc" || has_prefix(rest, "--prune") =>
        {
            j(T3, format!("git {sub} rewrites or drops history"))
        }
        "commit" | "merge" | "rebase" | "pull" | "cherry-pick" | "revert" | "am" | "apply" => {
            j(T2, format!("git {sub} changes history or the work tree"))
        }
        _ => Judgement::unlisted(T1, format!("git {sub} changes the repository"), args),
    }
}

const DOCKER_VALUES: &[&str] = &[
    "-H",
    "--host",
    "--context",
    "-c",
    "--config",
    "-l",
    "--log-level",
];

pub(super) fn containers(name: &str, args: &[Word]) -> Option<Judgement> {
    let Some((i, sub)) = first_operand(args, DOCKER_VALUES) else {
        return j(T0, format!("{name} with no subcommand prints help"));
    };
    let rest = &args[i + 1..];
    let sub = sub.text.as_str();
    let obj_verb = rest.first().map(|w| w.text.as_str()).unwrap_or("");
    match sub {
        "ps" | "logs" | "inspect" | "images" | "version" | "info" | "top" | "port" | "diff"
        | "history" | "events" | "search" | "help" => j(T0, format!("{name} {sub} reads only")),
        "stats" if has_long(rest, "no-stream") => {
            j(T0, format!("{name} stats --no-stream reads only"))
        }
        "exec" => exec_in_container(name, rest, i + 1),
        "container" | "image" | "network" | "volume" | "system" | "compose" | "builder"
        | "buildx" | "context" | "node" | "service" | "secret" | "config" | "plugin" | "swarm"
        | "stack" => match obj_verb {
            "ls" | "list" | "inspect" | "ps" | "logs" | "df" | "info" | "top" | "port"
            | "history" | "version" | "config" => {
                j(T0, format!("{name} {sub} {obj_verb} reads only"))
            }
            "prune" | "rm" | "remove" | "down" if sub != "container" || obj_verb == "prune" => {
                j(T3, format!("{name} {sub} {obj_verb} deletes data"))
            }
            _ => Judgement::unlisted(
                T2,
                format!("{name} {sub} {obj_verb} changes containers"),
                args,
            ),
        },
        "rm" | "rmi" if has_short(rest, 'f') || has_long(rest, "force") || has_short(rest, 'v') => {
            j(
                T3,
                format!("{name} {sub} -f removes containers or their volumes"),
            )
        }
        _ => Judgement::unlisted(T2, format!("{name} {sub} changes containers"), args),
    }
}

/// `docker exec [opts] CONTAINER cmd…`: the command inside is classified.
fn exec_in_container(name: &str, rest: &[Word], offset: usize) -> Option<Judgement> {
    let values = [
        "-e",
        "--env",
        "-u",
        "--user",
        "-w",
        "--workdir",
        "--env-file",
        "--detach-keys",
    ];
    let Some((c, _)) = first_operand(rest, &values) else {
        return j(T2, format!("{name} exec without a container"));
    };
    let start = offset + c + 1;
    Some(
        Judgement::data(T0, format!("{name} exec runs a command in a container")).with_inner(
            Inner::Argv {
                start,
                end: offset + rest.len(),
                partial: false,
            },
        ),
    )
}

const KUBE_VALUES: &[&str] = &[
    "-n",
    "--namespace",
    "--context",
    "--cluster",
    "--kubeconfig",
    "-s",
    "--server",
    "--user",
    "-l",
    "--selector",
    "-o",
    "--output",
    "-f",
    "--filename",
    "-c",
    "--container",
];

pub(super) fn kube(name: &str, args: &[Word]) -> Option<Judgement> {
    let Some((i, sub)) = first_operand(args, KUBE_VALUES) else {
        return j(T0, format!("{name} with no subcommand prints help"));
    };
    let rest = &args[i + 1..];
    let sub = sub.text.as_str();
    if name == "helm" {
        return match sub {
            "list" | "ls" | "status" | "get" | "history" | "show" | "search" | "version"
            | "env" | "template" | "lint" => j(T0, format!("helm {sub} reads only")),
            "uninstall" | "delete" | "del" | "rollback" => {
                j(T3, format!("helm {sub} removes or reverts a release"))
            }
            _ => Judgement::unlisted(T2, format!("helm {sub} changes releases"), args),
        };
    }
    match sub {
        "get" | "describe" | "logs" | "top" | "explain" | "version" | "api-resources"
        | "api-versions" | "cluster-info" | "events" | "diff" | "wait" => {
            j(T0, format!("{name} {sub} reads only"))
        }
        "auth"
            if rest
                .first()
                .is_some_and(|w| w.text == "can-i" || w.text == "whoami") =>
        {
            j(T0, format!("{name} auth reads only"))
        }
        "config"
            if rest.first().is_some_and(|w| {
                w.text == "view" || w.text.starts_with("get-") || w.text == "current-context"
            }) =>
        {
            j(T0, format!("{name} config reads only"))
        }
        "delete" | "drain" => j(
            T3,
            format!("{name} {sub} removes workloads or evicts nodes"),
        ),
        "exec" => {
            let start = args
                .iter()
                .position(|w| w.text == "--")
                .map(|p| p + 1)
                .or_else(|| first_operand(rest, KUBE_VALUES).map(|(p, _)| i + 1 + p + 1));
            match start {
                Some(start) if start < args.len() => Some(
                    Judgement::data(T0, format!("{name} exec runs a command in a pod")).with_inner(
                        Inner::Argv {
                            start,
                            end: args.len(),
                            partial: false,
                        },
                    ),
                ),
                _ => j(T2, format!("{name} exec without a command")),
            }
        }
        "rollout"
            if rest
                .first()
                .is_some_and(|w| w.text == "status" || w.text == "history") =>
        {
            j(T0, format!("{name} rollout status reads only"))
        }
        "port-forward" | "proxy" | "attach" | "cp" => {
            j(T1, format!("{name} {sub} opens a channel or copies files"))
        }
        _ => Judgement::unlisted(T2, format!("{name} {sub} changes the cluster"), args),
    }
}
