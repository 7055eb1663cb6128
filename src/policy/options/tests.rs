use super::*;

fn g(text: &'static str) -> Grammar {
    Grammar::new(text).expect("grammar") // ok: test
}

/// Render the parse as compact strings: `name[=value]`, `op:word`, `?word@offset`, …
fn show(grammar: &Grammar, args: &[&str]) -> Vec<String> {
    grammar
        .parse(args)
        .items
        .iter()
        .map(|i| match i {
            Item::Opt { id, value, .. } => {
                let name = grammar.info(*id).map(|o| o.names[0]).unwrap_or("?");
                match value {
                    Some(v) => format!("{name}={}", v.text(args)),
                    None => name.to_string(),
                }
            }
            Item::Operand { at } => format!("op:{}", args[*at]),
            Item::EndOfOptions { .. } => "--".into(),
            Item::Negated { id, .. } => {
                format!(
                    "not:{}",
                    grammar.info(*id).map(|o| o.names[0]).unwrap_or("?")
                )
            }
            Item::Unknown { at, offset } => format!("?{}@{offset}", args[*at]),
            Item::Ambiguous { candidates, .. } => format!("ambiguous:{}", candidates.len()),
            Item::MissingValue { id, .. } => {
                format!(
                    "missing:{}",
                    grammar.info(*id).map(|o| o.names[0]).unwrap_or("?")
                )
            }
            Item::UnexpectedValue { id, .. } => {
                format!(
                    "unexpected:{}",
                    grammar.info(*id).map(|o| o.names[0]).unwrap_or("?")
                )
            }
        })
        .collect()
}

#[test]
fn bundles_attached_and_separate_values() {
    let gr = g("-t -I: -f -O: -n");
    assert_eq!(show(&gr, &["-tIf", "x"]), ["-t", "-I=f", "op:x"]);
    assert_eq!(show(&gr, &["-tI", "f", "x"]), ["-t", "-I=f", "op:x"]);
    assert_eq!(show(&gr, &["-O\"less\"", "pat"]), ["-O=\"less\"", "op:pat"]);
    assert_eq!(show(&gr, &["-nq"]), ["-n", "?-nq@2"]);
    assert_eq!(show(&gr, &["-I"]), ["missing:-I"]);
    // A value is taken even when it looks like an option.
    assert_eq!(show(&gr, &["-I", "-n"]), ["-I=-n"]);
}

#[test]
fn optional_values_must_be_attached() {
    let gr = g("-i::,--in-place=? -n,--quiet,--silent -e:,--expression=");
    assert_eq!(
        show(&gr, &["-i.bak", "s/a/b/", "f"]),
        ["-i=.bak", "op:s/a/b/", "op:f"]
    );
    assert_eq!(show(&gr, &["-i", "s/a/b/"]), ["-i", "op:s/a/b/"]);
    assert_eq!(show(&gr, &["-ni"]), ["-n", "-i"]);
    assert_eq!(show(&gr, &["--in-place=.b"]), ["-i=.b"]);
    assert_eq!(show(&gr, &["--in-place", "x"]), ["-i", "op:x"]);
}

#[test]
fn gnu_abbreviation_and_ambiguity() {
    let gr = g("-e:,--expression= --execute --quiet,--silent");
    assert_eq!(show(&gr, &["--expr", "p"]), ["-e=p"]);
    assert_eq!(show(&gr, &["--expr=p"]), ["-e=p"]);
    assert_eq!(show(&gr, &["--ex"]), ["ambiguous:2"]);
    assert_eq!(show(&gr, &["--q"]), ["--quiet"]);
    assert_eq!(show(&gr, &["--s"]), ["--quiet"]);
    assert_eq!(show(&gr, &["--exec=x"]), ["unexpected:--execute"]);
    assert_eq!(show(&gr, &["--nope"]), ["?--nope@2"]);
    let exact = g("--color=? --colour=?");
    assert_eq!(show(&exact, &["--col"]), ["ambiguous:2"]);
    let no = g("@no-abbrev --output=");
    assert_eq!(show(&no, &["--out", "f"]), ["?--out@2", "op:f"]);
}

#[test]
fn permutation_and_end_of_options() {
    let gr = g("-o: -r");
    assert_eq!(
        show(&gr, &["in", "-o", "out", "-r"]),
        ["op:in", "-o=out", "-r"]
    );
    assert_eq!(show(&gr, &["--", "-o", "x"]), ["--", "op:-o", "op:x"]);
    assert_eq!(show(&gr, &["-", "-r"]), ["op:-", "-r"]);
    let posix = g("@posix -o: -r");
    assert_eq!(
        show(&posix, &["in", "-o", "out"]),
        ["op:in", "op:-o", "op:out"]
    );
}

#[test]
fn digits_option() {
    let gr = g("-n:,--lines= -# -q");
    assert_eq!(show(&gr, &["-5", "f"]), ["-#=5", "op:f"]);
    assert_eq!(show(&gr, &["-20q"]), ["-#=20q", "-q"]);
}

#[test]
fn long_only_style() {
    let gr = g("@long-only -v --verbose --vendor= -o:");
    assert_eq!(show(&gr, &["-verb"]), ["--verbose"]);
    assert_eq!(show(&gr, &["-v"]), ["-v"]);
    assert_eq!(show(&gr, &["-ofile"]), ["-o=file"]);
}

#[test]
fn iproute2_first_match() {
    let gr = g(
        "@first-match -4 -6 -family= -stats -details -netns= -Numeric -batch= -brief -json -color=?",
    );
    assert_eq!(show(&gr, &["-br", "a"]), ["-brief", "op:a"]);
    assert_eq!(show(&gr, &["-b", "cmds"]), ["-batch=cmds"]);
    assert_eq!(
        show(&gr, &["-s", "-s", "link"]),
        ["-stats", "-stats", "op:link"]
    );
    assert_eq!(show(&gr, &["-n", "ns1", "r"]), ["-netns=ns1", "op:r"]);
    assert_eq!(show(&gr, &["--json", "a"]), ["-json", "op:a"]);
    assert_eq!(show(&gr, &["-4", "r"]), ["-4", "op:r"]);
    assert_eq!(show(&gr, &["-c=always", "a"]), ["-color=always", "op:a"]);
    assert_eq!(show(&gr, &["-x"]), ["?-x@1"]);
    // Options stop at the object.
    assert_eq!(show(&gr, &["a", "-s"]), ["op:a", "op:-s"]);
}

#[test]
fn go_flags() {
    let gr = g("@go -out= -destroy -var= -input");
    assert_eq!(
        show(&gr, &["-out=plan", "-input=false"]),
        ["-out=plan", "-input=false"]
    );
    assert_eq!(show(&gr, &["--out", "p"]), ["-out=p"]);
    assert_eq!(show(&gr, &["-destroy"]), ["-destroy"]);
    assert_eq!(show(&gr, &["-de"]), ["?-de@1"]);
    assert_eq!(show(&gr, &["dir", "-destroy"]), ["op:dir", "op:-destroy"]);
}

#[test]
fn single_dash_exact() {
    let gr = g("@single -in= -out= -noout -text -H");
    assert_eq!(
        show(&gr, &["-in", "c.pem", "-noout", "-text"]),
        ["-in=c.pem", "-noout", "-text"]
    );
    assert_eq!(show(&gr, &["-out=x"]), ["-out=x"]);
    assert_eq!(show(&gr, &["-no"]), ["?-no@1"]);
    assert_eq!(show(&gr, &["-H"]), ["-H"]);
}

#[test]
fn tar_old_style() {
    let gr = g("-c -x -t -v -z -f:,--file= -C:,--directory=");
    let args = ["cvzf", "out.tgz", "dir"];
    assert_eq!(
        gr.parse_old_style(&args).items,
        vec![
            Item::Opt {
                id: OptId(0),
                at: 0,
                value: None
            },
            Item::Opt {
                id: OptId(3),
                at: 0,
                value: None
            },
            Item::Opt {
                id: OptId(4),
                at: 0,
                value: None
            },
            Item::Opt {
                id: OptId(5),
                at: 0,
                value: Some(Value { at: 1, start: 0 })
            },
            Item::Operand { at: 2 },
        ]
    );
    assert_eq!(
        show(&gr, &["-xf", "a.tar", "-C", "/etc"]),
        ["-x", "-f=a.tar", "-C=/etc"]
    );
}

#[test]
fn subcommands() {
    let objects = ["address", "addrlabel", "route", "rule", "link", "l2tp"];
    assert_eq!(
        match_command("l", &objects, CommandMatch::FirstPrefix),
        Some("link")
    );
    assert_eq!(
        match_command("a", &objects, CommandMatch::FirstPrefix),
        Some("address")
    );
    assert_eq!(
        match_command("ru", &objects, CommandMatch::FirstPrefix),
        Some("rule")
    );
    assert_eq!(
        match_command("r", &objects, CommandMatch::UniquePrefix),
        None
    );
    assert_eq!(
        match_command("li", &objects, CommandMatch::UniquePrefix),
        Some("link")
    );
    assert_eq!(match_command("lin", &objects, CommandMatch::Exact), None);
    assert_eq!(match_command("", &objects, CommandMatch::FirstPrefix), None);
}

#[test]
fn bad_grammars_are_errors() {
    assert!(Grammar::new("x").is_err());
    assert!(Grammar::new("@bogus").is_err());
    assert!(Grammar::new("--").is_err());
}

#[test]
fn names_and_lookup() {
    let gr = g("-o:,--output=!w --color=? -i::");
    assert_eq!(gr.options()[0].names, ["-o", "--output"]);
    assert_eq!(gr.options()[1].names, ["--color"]);
    assert_eq!(gr.options()[2].names, ["-i"]);
    assert_eq!(gr.tags(OptId(0)), "w");
    assert_eq!(gr.find("--output"), Some(OptId(0)));
    assert_eq!(gr.find("-o"), Some(OptId(0)));
    assert_eq!(gr.find("-x"), None);
}

#[test]
fn negatable_long_options() {
    let gr = g("@negatable --ext-diff!x --color=? --no-index");
    assert_eq!(show(&gr, &["--no-ext-diff"]), ["not:--ext-diff"]);
    assert_eq!(show(&gr, &["--no-color"]), ["not:--color"]);
    assert_eq!(show(&gr, &["--no-index"]), ["--no-index"]);
    assert_eq!(show(&gr, &["--no-ext"]), ["not:--ext-diff"]);
    let plain = g("--ext-diff");
    assert_eq!(show(&plain, &["--no-ext-diff"]), ["?--no-ext-diff@2"]);
}

#[test]
fn secrets_in_command_lines_are_found_by_tag() {
    // How a redactor would declare mysql's options: -p takes an optional attached password.
    let mysql = g("-u:,--user= -p::,--password=?!k -h:,--host= -e:,--execute=");
    let args = ["-uroot", "-pS3cr3t", "-h", "db", "-e", "select 1"];
    let parsed = mysql.parse(&args);
    let found: Vec<&str> = parsed
        .tagged_values(&mysql, 'k')
        .iter()
        .map(|v| v.text(&args))
        .collect();
    assert_eq!(found, ["S3cr3t"]);
    let v = parsed.tagged_values(&mysql, 'k')[0];
    assert_eq!((v.at, v.start), (1, 2));
    let args = ["--pass=hunter2", "-p", "db"];
    let parsed = mysql.parse(&args);
    let found: Vec<&str> = parsed
        .tagged_values(&mysql, 'k')
        .iter()
        .map(|v| v.text(&args))
        .collect();
    // `--pass` abbreviates `--password`; a bare `-p` has no attached value (mysql prompts).
    assert_eq!(found, ["hunter2"]);
}

#[test]
fn a_short_option_declared_twice_is_its_first_declaration() {
    // The index of short options keeps the search's answer: the first declaration wins,
    // and a character outside ASCII is still found.
    let gr = g("-a: -a -é");
    assert_eq!(show(&gr, &["-ax", "-é"]), ["-a=x", "-é"]);
    assert_eq!(gr.short('a').map(|s| s.1), Some(Arity::Required));
    assert!(gr.short('b').is_none());
}
