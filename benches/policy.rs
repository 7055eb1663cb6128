//! Classification cost: typical commands (µs each) and 1 MB adversarial inputs (ms each).
//! Run: `cargo bench --bench policy`. Prints figures; asserts nothing.
//! `RELAY_SHELL_BENCH_PART=typical` runs only the typical commands (for profiling).

use std::hint::black_box;
use std::time::{Duration, Instant};

use relay_shell::policy::probe::test_probe;
use relay_shell::policy::{Probe, classify};

/// Median time of `runs` calls.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    // Warm up: the rule tables compile once per process; the parser is created once per thread.
    classify(&test_probe("shell_exec", "ls"));

    println!("typical commands (median of 2000 runs)");
    let typical = [
        ("ls -la", "shell_exec"),
        (
            "journalctl -u nginx -n 50 --no-pager | grep -i error | tail -n 20",
            "shell_exec",
        ),
        ("rm -rf /var/tmp/x", "shell_exec"),
        (
            "sudo systemctl restart nginx && systemctl status nginx",
            "shell_exec",
        ),
        (
            "find / -name '*.log' -mtime +7 -exec gzip {} \\;",
            "shell_exec",
        ),
        (
            "bash -c 'for f in *.conf; do grep -H listen \"$f\"; done'",
            "shell_exec",
        ),
        ("Remove-Item -Recurse -Force C:\\data\nwin01", "ssh_exec"),
        (
            "kubectl get pods -n prod -o wide --sort-by=.status.startTime",
            "shell_exec",
        ),
        (
            "aws ec2 describe-instances --region us-east-1 --output json",
            "shell_exec",
        ),
        ("ip -br -c a && ss -tlnp", "shell_exec"),
        (
            "sed -n '1,10p' f | awk -F: '{print $1 > \"/dev/stderr\"}'",
            "shell_exec",
        ),
        (
            "cd /etc && tar -xzf /tmp/a.tgz --strip-components=1",
            "shell_exec",
        ),
        ("git log --oneline --graph -n 20 -- src", "shell_exec"),
    ];
    for (text, tool) in typical {
        let probe: Probe = test_probe(tool, text);
        let d = median(2000, || {
            black_box(classify(black_box(&probe)));
        });
        println!("  {:>8.1} µs  {tool:<10} {:?}", d.as_secs_f64() * 1e6, text);
    }

    if std::env::var("RELAY_SHELL_BENCH_PART").is_ok_and(|p| p == "typical") {
        // Only the typical commands, repeated (for profiling).
        for _ in 0..50 {
            for (text, tool) in typical {
                black_box(classify(&test_probe(tool, black_box(text))));
            }
        }
        return;
    }

    println!("adversarial inputs (~1 MB; median of 5 runs)");
    const MB: usize = 1 << 20;
    let fill = |unit: &str| unit.repeat(MB / unit.len());
    let cases = [
        ("\"rm \" * N", fill("rm ")),
        ("\"rm -rf \" * N", fill("rm -rf ")),
        ("\"Remove-Item \" * N", fill("Remove-Item ")),
        ("\"del \" * N", fill("del ")),
        ("\"format \" * N", fill("format ")),
        ("\"$(\" * N", fill("$(")),
        ("\"\\\"$(echo '\" * N", fill("\"$(echo '")),
        ("\"a|\" * N", fill("a|")),
        ("\"ls; \" * N", fill("ls; ")),
        (
            "\"xgit push \" * N + --force",
            format!("{}--force", fill("xgit push ")),
        ),
    ];
    for (name, text) in &cases {
        let probe = test_probe("shell_exec", text);
        let d = median(5, || {
            black_box(classify(black_box(&probe)));
        });
        println!(
            "  {:>8.1} ms  {name} ({} bytes)",
            d.as_secs_f64() * 1e3,
            text.len()
        );
    }

    println!("parsed input below the 64 KiB cap (median of 5 runs)");
    for unit in ["ls; ", "a|", "$("] {
        for n in [256usize, 1024, 4096, 16384] {
            let text = unit.repeat(n);
            let probe = test_probe("shell_exec", &text);
            let d = median(5, || {
                black_box(classify(black_box(&probe)));
            });
            println!(
                "  {:>8.2} ms  {unit:?} * {n} ({} bytes)",
                d.as_secs_f64() * 1e3,
                text.len()
            );
        }
    }
    // Well-formed pipelines and lists (no dangling separator) by number of commands; median of
    // 101 runs.
    for (name, sep, cmd) in [("\"a | \"", " | ", "a"), ("\"ls; \"", "; ", "ls")] {
        for n in [4usize, 16, 64, 256] {
            let text = vec![cmd; n].join(sep);
            let probe = test_probe("shell_exec", &text);
            let d = median(101, || {
                black_box(classify(black_box(&probe)));
            });
            println!(
                "  {:>8.3} ms  {name} joining {n} commands ({} bytes)",
                d.as_secs_f64() * 1e3,
                text.len()
            );
        }
    }
}
