//! Containers and clusters: `docker`/`podman`/`nerdctl`, `kubectl`/`oc` and `helm`, judged by
//! verb; what they run inside a container or pod is classified as a command; flags that send
//! credentials or requests to another endpoint raise the tier.

use super::programs::{Call, Class::*, Decl, judged};
use super::verbs::{self, Verb};
use crate::policy::Tier::{Irreversible as T3, Reversible as T1, Stateful as T2};

/// The operand texts from this call's operand number `from` on.
fn words_from(c: &Call<'_>, from: usize) -> Vec<String> {
    c.operand_texts()
        .iter()
        .skip(from)
        .map(|s| s.to_string())
        .collect()
}

/// `cp SRC… DEST` between a container (`name:path`) and here.
fn copy_between(c: &mut Call<'_>, what: &str) {
    let ops = c.operands();
    let Some(&dest) = ops.last() else {
        return;
    };
    let text = c.args().get(dest).map_or("", |w| w.text.as_str());
    let remote = text
        .split_once(':')
        .is_some_and(|(head, _)| !head.is_empty() && !head.contains('/'));
    if remote {
        c.raise(T2, format!("{what} cp copies into a container or pod"));
    } else {
        c.raise(T1, format!("{what} cp copies files here"));
        c.write_operand(dest, false);
    }
}

const DOCKER_NOUNS: &[&str] = &[
    "container",
    "image",
    "volume",
    "network",
    "system",
    "builder",
    "buildx",
    "context",
    "node",
    "service",
    "secret",
    "config",
    "plugin",
    "swarm",
    "stack",
    "manifest",
    "trust",
    "machine",
    "pod",
    "checkpoint",
    "scout",
    "sbom",
    "farm",
    "artifact",
    "kube",
    "generate",
    "healthcheck",
    "namespace",
];

fn docker(c: &mut Call<'_>) {
    let name = c.name.to_string();
    let ops = c.operands();
    let Some(&first) = ops.first() else {
        c.describe(format!("{name} with no command prints help"));
        return;
    };
    let words = words_from(c, 0);
    let sub = words.first().map_or("", String::as_str).to_string();
    let object_verb = words.get(1).map_or("", String::as_str).to_string();
    match sub.as_str() {
        "exec" => {
            c.continue_as("docker exec", first + 1);
        }
        "run" | "create" => {
            c.continue_as("docker run", first + 1);
            c.raise(T2, format!("{name} {sub} starts a container"));
        }
        "container" if matches!(object_verb.as_str(), "exec" | "run" | "create") => {
            let sub_name = if object_verb == "exec" {
                "docker exec"
            } else {
                "docker run"
            };
            c.continue_as(sub_name, first + 2);
            if object_verb != "exec" {
                c.raise(
                    T2,
                    format!("{name} container {object_verb} starts a container"),
                );
            }
        }
        "compose" | "docker-compose" => compose(c, &words[1..], &name),
        "cp" => copy_between(c, &name),
        "container" if object_verb == "cp" => copy_between(c, &name),
        "stats" | "attach" | "save" | "export" => match sub.as_str() {
            "stats" => c.describe(format!("{name} stats reads only")),
            "attach" => c.raise(T1, format!("{name} attach joins a container's terminal")),
            _ => {
                c.raise(T1, format!("{name} {sub} writes an archive"));
                let raw: Vec<String> = c.args().iter().map(|w| w.text.clone()).collect();
                for (i, w) in raw.iter().enumerate() {
                    if (w == "-o" || w == "--output") && i + 1 < raw.len() {
                        c.write_operand(i + 1, false);
                    } else if w.starts_with("--output=") {
                        let start = "--output=".len();
                        c.write_to(crate::policy::options::Value { at: i, start }, false);
                    }
                }
            }
        },
        "system" if object_verb == "reset" => {
            c.raise(T3, format!("{name} system reset removes everything"))
        }
        _ => {
            verbs::by_first_verb(c, 2, DOCKER_NOUNS);
        }
    }
}

/// `docker compose [opts] VERB …`
fn compose(c: &mut Call<'_>, words: &[String], name: &str) {
    let values = [
        "-f",
        "--file",
        "-p",
        "--project-name",
        "--project-directory",
        "--env-file",
        "--profile",
        "--ansi",
        "--progress",
        "--parallel",
    ];
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if values.contains(&w) {
            i += 2;
        } else if w.starts_with('-') {
            i += 1;
        } else {
            break;
        }
    }
    let verb = words.get(i).map_or("", String::as_str);
    let rest = words.get(i + 1..).unwrap_or(&[]);
    match verb {
        "" => c.describe(format!("{name} compose prints help")),
        "ps" | "logs" | "config" | "ls" | "images" | "top" | "version" | "events" | "port"
        | "stats" | "wait" | "convert" => c.describe(format!("{name} compose {verb} reads only")),
        "down"
            if rest.iter().any(|w| {
                matches!(w.as_str(), "-v" | "--volumes" | "--rmi") || w.starts_with("--rmi=")
            }) =>
        {
            c.raise(T3, format!("{name} compose down -v deletes volumes"))
        }
        "rm" => c.raise(T3, format!("{name} compose rm removes containers")),
        _ => c.raise(T2, format!("{name} compose {verb} changes containers")),
    }
}

/// `docker exec [opts] CONTAINER cmd…`
fn docker_exec(c: &mut Call<'_>) {
    let ops = c.operands();
    match ops.get(1) {
        Some(&cmd) => {
            c.describe("docker exec runs a command in a container");
            c.runs_argv(cmd);
        }
        None => c.raise(T2, "docker exec without a command"),
    }
}

/// `docker run [opts] IMAGE [cmd…]`: what runs inside is judged as a command (a container
/// given the host's root or devices can change the host).
fn docker_run(c: &mut Call<'_>) {
    let ops = c.operands();
    if let Some(&cmd) = ops.get(1) {
        c.runs_argv(cmd);
    }
}

fn kubectl(c: &mut Call<'_>) {
    let name = c.name.to_string();
    let ops = c.operands();
    let words = words_from(c, 0);
    let Some(sub) = words.first().cloned() else {
        c.describe(format!("{name} with no command prints help"));
        return;
    };
    let second = words.get(1).cloned().unwrap_or_default();
    let dry_run = c
        .values("--dry-run")
        .iter()
        .any(|v| matches!(c.value_text(*v), "client" | "server" | "true"))
        || c.has("--dry-run") && c.values("--dry-run").is_empty();
    let verdict: (u8, String) = match sub.as_str() {
        "exec" => {
            let end = c.parsed.items.iter().find_map(|i| match i {
                crate::policy::options::Item::EndOfOptions { at } => Some(*at),
                _ => None,
            });
            let start = match end {
                Some(at) => Some(at + 1),
                None => ops.get(2).copied(),
            };
            match start {
                Some(at) if at < c.args().len() => {
                    c.runs_argv(at);
                    (0, format!("{name} exec runs a command in a pod"))
                }
                _ => (2, format!("{name} exec without a command")),
            }
        }
        "config" => match second.as_str() {
            "view" | "current-context" | "get-contexts" | "get-clusters" | "get-users" | "" => {
                (0, format!("{name} config {second} reads only"))
            }
            s if s.starts_with("delete-") => {
                (3, format!("{name} config {s} deletes kubeconfig entries"))
            }
            s => (2, format!("{name} config {s} changes the kubeconfig")),
        },
        "rollout" => match second.as_str() {
            "status" | "history" => (0, format!("{name} rollout {second} reads only")),
            s => (2, format!("{name} rollout {s} changes workloads")),
        },
        "auth" => match second.as_str() {
            "can-i" | "whoami" => (0, format!("{name} auth {second} reads only")),
            s => (2, format!("{name} auth {s} changes access")),
        },
        "plugin" if matches!(second.as_str(), "list" | "") => {
            (0, format!("{name} plugin list reads only"))
        }
        "cp" => {
            copy_between(c, &name);
            (0, String::new())
        }
        "port-forward" | "proxy" | "attach" => (1, format!("{name} {sub} opens a channel")),
        "delete" | "drain" => (3, format!("{name} {sub} removes workloads or evicts nodes")),
        "replace" if c.has("--force") => {
            (3, format!("{name} replace --force deletes and recreates"))
        }
        "apply" if c.has("--prune") => (
            3,
            format!("{name} apply --prune deletes what the files omit"),
        ),
        "get" | "describe" | "logs" | "top" | "explain" | "version" | "api-resources"
        | "api-versions" | "cluster-info" | "events" | "diff" | "wait" | "completion"
        | "options" | "kustomize" => (0, format!("{name} {sub} reads only")),
        _ => match verbs::verb(&sub, false) {
            Some(Verb::Read) => (0, format!("{name} {sub} reads only")),
            Some(Verb::Destroy) => (3, format!("{name} {sub} deletes")),
            _ => (
                2,
                format!("{name} {sub} changes the cluster (or runs a plugin)"),
            ),
        },
    };
    let (tier, rule) = verdict;
    if tier >= 2 && dry_run && sub != "exec" {
        c.describe(format!("{name} {sub} --dry-run changes nothing"));
        return;
    }
    match tier {
        0 if !rule.is_empty() => c.describe(rule),
        1 => c.raise(T1, rule),
        2 => c.raise(T2, rule),
        3 => c.raise(T3, rule),
        _ => {}
    }
}

fn helm(c: &mut Call<'_>) {
    let words = words_from(c, 0);
    let Some(sub) = words.first().cloned() else {
        c.describe("helm with no command prints help");
        return;
    };
    let second = words.get(1).cloned().unwrap_or_default();
    let dry_run = c.has("--dry-run");
    match sub.as_str() {
        "list" | "ls" | "status" | "get" | "history" | "hist" | "show" | "inspect" | "search"
        | "version" | "template" | "lint" | "env" | "verify" | "completion" => {
            c.describe(format!("helm {sub} reads only"))
        }
        "repo" | "plugin" | "dependency" | "dep" if matches!(second.as_str(), "list" | "ls") => {
            c.describe(format!("helm {sub} list reads only"))
        }
        "uninstall" | "delete" | "del" | "un" if dry_run => {
            c.describe(format!("helm {sub} --dry-run changes nothing"))
        }
        "uninstall" | "delete" | "del" | "un" => {
            c.raise(T3, format!("helm {sub} removes a release"))
        }
        "install" | "upgrade" if dry_run => {
            c.describe(format!("helm {sub} --dry-run renders only"))
        }
        _ => c.raise(T2, format!("helm {sub} changes releases or configuration")),
    }
}

const KUBE_FLAGS: &str = "@no-abbrev -n:,--namespace= --context= --cluster= --user= --kubeconfig=!R -s:,--server=!R --insecure-skip-tls-verify=?!R --certificate-authority=!R --tls-server-name=!R --client-certificate= --client-key= --token=!k --username= --password=!k --as= --as-group= --as-uid= --cache-dir=!t --log-file=!w --log-dir=!t --profile= --profile-output=!w --request-timeout= --match-server-version -v:,--v= --vmodule= -o:,--output= -l:,--selector= -f:,--filename= -c:,--container= -A,--all-namespaces -w,--watch --watch-only --tail= --since= --since-time= --previous -p:,--patch= --type= --replicas= -i,--stdin -t,--tty --image= --port= --dry-run=? --force --grace-period= --timeout= --for= --field-selector= --sort-by= --show-labels -L:,--label-columns= --raw= --prune --all --cascade=? -k:,--kustomize= -R,--recursive --record --overwrite --local --template= --subresource= --chunk-size= --server-side --field-manager= --validate=? --wait=? --ignore-daemonsets --delete-emptydir-data --pod-running-timeout= --quiet -q --client --short --ignore-not-found --no-headers --output-watch-events --all-containers --prefix --timestamps --max-log-requests= --limit-bytes= --env= -e: --overrides= --restart= --rm --expose --labels= --annotations= --attach --leave-stdin-open --privileged --target= --profile-debug= --copy-to= --share-processes --set-image= --to-revision= --revision= --containers= --address= --api-prefix= --accept-hosts= --accept-paths= --reject-paths= --reject-methods= --www= --www-prefix= --unix-socket= --keepalive= -h,--help!h --version=?!h";

const HELM_FLAGS: &str = "@no-abbrev --kube-apiserver=!R --kube-as-group= --kube-as-user= --kube-ca-file=!R --kube-context= --kube-insecure-skip-tls-verify!R --kube-tls-server-name=!R --kube-token=!k --kubeconfig=!R -n:,--namespace= --registry-config= --repository-cache= --repository-config= --burst-limit= --qps= --debug -h,--help!h -f:,--values= --set= --set-string= --set-file= --set-json= --set-literal= --version= -o:,--output= --post-renderer=!x --post-renderer-args= --timeout= --wait --wait-for-jobs --atomic --install -i --create-namespace --dry-run=? --repo= --username= --password=!k --pass-credentials -A,--all-namespaces -a,--all -q,--short --max= --revision= --description= --keep-history --no-hooks --force --reset-values --reuse-values --reset-then-reuse-values --devel --verify --keyring= --cert-file= --key-file= --ca-file= --insecure-skip-tls-verify!R --plain-http -g,--generate-name --name-template= --skip-crds --include-crds --show-only= -s: --api-versions= --kube-version= --validate --is-upgrade --dependency-update --render-subchart-notes --disable-openapi-validation --labels= -l:,--selector= --filter= -m: -d,--date -r,--reverse --deployed --failed --pending --superseded --uninstalled --uninstalling --no-headers --time-format= --hide-notes --hide-secret --cascade= --ignore-not-found --history-max= --recreate-pods --cleanup-on-fail --skip-refresh --untar --untardir=!t -d:,--destination=!t --prov --enable-dns --take-ownership --rollback-on-failure --server-side=?";

pub(super) const DECLS: &[Decl] = &[
    judged(
        &["docker", "podman", "nerdctl", "docker-compose"],
        Risky,
        "@posix --config=!R -c:,--context= -D,--debug -H:,--host=!R -l:,--log-level= --tls --tlscacert=!R --tlscert= --tlskey= --tlsverify -v,--version!h --help!h --url=!R --connection= --identity= --remote --root= --runroot= --storage-driver= --log-level= --namespace= --address=!R --cgroup-manager= --events-backend= --runtime= --syslog",
        docker,
    ),
    judged(
        &["docker exec"],
        Risky,
        "@posix -d,--detach --detach-keys= -e:,--env=!e --env-file=!r -i,--interactive --privileged!s -t,--tty -u:,--user= -w:,--workdir= --help!h --preserve-fds= -l,--latest",
        docker_exec,
    ),
    judged(
        &["docker run"],
        Risky,
        "@posix -a:,--attach= --add-host= --annotation= --blkio-weight= --cap-add= --cap-drop= --cgroup-parent= --cgroupns= --cidfile=!w --cpu-period= --cpu-quota= --cpu-shares= -c: --cpus= --cpuset-cpus= --cpuset-mems= -d,--detach --detach-keys= --device= --device-cgroup-rule= --dns= --dns-option= --dns-search= --domainname= --entrypoint=!x -e:,--env=!e --env-file=!r --expose= --gpus= --group-add= --health-cmd= --health-interval= --health-retries= --health-start-period= --health-timeout= -h:,--hostname= --init -i,--interactive --ip= --ip6= --ipc= --isolation= --kernel-memory= -l:,--label= --label-file= --link= --log-driver= --log-opt= --mac-address= -m:,--memory= --memory-reservation= --memory-swap= --memory-swappiness= --mount= --name= --network=,--net= --network-alias= --no-healthcheck --oom-kill-disable --oom-score-adj= --pid= --pids-limit= --platform= --privileged -p:,--publish= -P,--publish-all --pull= -q,--quiet --read-only --restart= --rm --runtime= --security-opt= --shm-size= --sig-proxy=? --stop-signal= --stop-timeout= --storage-opt= --sysctl= --tmpfs= -t,--tty --ulimit= -u:,--user= --userns= --uts= -v:,--volume= --volume-driver= --volumes-from= -w:,--workdir= --help!h --replace --pod= --systemd=",
        docker_run,
    ),
    judged(
        &["kubectl", "oc", "kubectl.exe", "k3s-kubectl"],
        Risky,
        KUBE_FLAGS,
        kubectl,
    ),
    judged(&["helm"], Risky, HELM_FLAGS, helm),
];
