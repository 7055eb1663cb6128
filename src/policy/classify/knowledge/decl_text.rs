//! Declared text and file tools (coreutils, grep, compressors' read forms, hex and checksum
//! tools): their options, tagged by effect (see [`super::programs`]).

use super::programs::{Call, Class::*, Decl, decl, judged};
use crate::policy::Tier;

const HV: &str = "--help!h --version!h";

/// `uniq IN OUT`, `xxd IN OUT`: a second operand is written.
fn second_operand_written(c: &mut Call<'_>) {
    let ops = c.operands();
    if let Some(&out) = ops.get(1) {
        c.write_operand(out, false);
    }
}

/// `tee FILE…`, `split`/`csplit` outputs: every operand is written.
fn operands_written(c: &mut Call<'_>) {
    for at in c.operands() {
        c.write_operand(at, false);
    }
}

/// `xxd`: `-r` with a second operand writes it (also without `-r`).
fn xxd(c: &mut Call<'_>) {
    second_operand_written(c);
}

/// `split`/`csplit`: write pieces next to the input (tier 1).
fn pieces(c: &mut Call<'_>) {
    let name = c.name.to_string();
    c.raise(
        Tier::Reversible,
        format!("{name} writes the pieces as files"),
    );
}

/// Compressors write the (de)compressed file unless they write to standard output, list or test.
fn compressor(c: &mut Call<'_>) {
    let to_stdout = c.has("-c") || c.has("-l") || c.has("-t");
    if !to_stdout {
        let name = c.name.to_string();
        c.raise(
            Tier::Reversible,
            format!("{name} replaces files with their (de)compressed form"),
        );
    }
}

pub(super) const DECLS: &[Decl] = &[
    decl(
        &["cat"],
        Reader,
        "-A,--show-all -b,--number-nonblank -e -E,--show-ends -n,--number -s,--squeeze-blank -t -T,--show-tabs -u -v,--show-nonprinting --help!h --version!h",
    ),
    decl(
        &["tac"],
        Reader,
        "-b,--before -r,--regex -s:,--separator= --help!h --version!h",
    ),
    decl(
        &["nl"],
        Reader,
        "-b:,--body-numbering= -d:,--section-delimiter= -f:,--footer-numbering= -h:,--header-numbering= -i:,--line-increment= -l:,--join-blank-lines= -n:,--number-format= -p,--no-renumber -s:,--number-separator= -v:,--starting-line-number= -w:,--number-width= --help!h --version!h",
    ),
    decl(
        &["head"],
        Reader,
        "-# -c:,--bytes= -n:,--lines= -q,--quiet,--silent -v,--verbose -z,--zero-terminated --help!h --version!h",
    ),
    decl(
        &["tail"],
        Reader,
        "-# -c:,--bytes= -f --follow=? -F -n:,--lines= --max-unchanged-stats= --pid= -q,--quiet,--silent --retry -s:,--sleep-interval= -v,--verbose -z,--zero-terminated --help!h --version!h",
    ),
    decl(
        &["wc"],
        Reader,
        "-c,--bytes -m,--chars -l,--lines --files0-from= -L,--max-line-length -w,--words --total= --help!h --version!h",
    ),
    decl(
        &["cut"],
        Reader,
        "-b:,--bytes= -c:,--characters= -d:,--delimiter= -f:,--fields= -n --complement -s,--only-delimited --output-delimiter= -z,--zero-terminated --help!h --version!h",
    ),
    decl(
        &["paste"],
        Reader,
        "-d:,--delimiters= -s,--serial -z,--zero-terminated --help!h --version!h",
    ),
    decl(&["rev"], Reader, "-0,--zero -h,--help!h -V,--version!h"),
    decl(
        &["fold"],
        Reader,
        "-b,--bytes -s,--spaces -w:,--width= -# --help!h --version!h",
    ),
    decl(
        &["expand"],
        Reader,
        "-i,--initial -t:,--tabs= -# --help!h --version!h",
    ),
    decl(
        &["unexpand"],
        Reader,
        "-a,--all --first-only -t:,--tabs= -# --help!h --version!h",
    ),
    decl(
        &["column"],
        Reader,
        "-t,--table -n:,--table-name= -O:,--table-order= -N:,--table-columns= -l:,--table-columns-limit= -E:,--table-noextreme= -d,--table-noheadings -e,--table-header-repeat -H:,--table-hide= -R:,--table-right= -T:,--table-truncate= -W:,--table-wrap= -L,--keep-empty-lines -J,--json -r:,--tree= -i:,--tree-id= -p:,--tree-parent= -c:,--output-width= -o:,--output-separator= -s:,--separator= -x,--fillrows -h,--help!h -V,--version!h",
    ),
    decl(
        &["fmt"],
        Reader,
        "-c,--crown-margin -p:,--prefix= -s,--split-only -t,--tagged-paragraph -u,--uniform-spacing -w:,--width= -g:,--goal= -# --help!h --version!h",
    ),
    decl(
        &["pr"],
        Reader,
        "-# -a,--across -c,--show-control-chars -d,--double-space -D:,--date-format= -e:: --expand-tabs=? -F,-f,--form-feed -h:,--header= -i:: --output-tabs=? -J,--join-lines -l:,--length= -m,--merge -n:: --number-lines=? -N:,--first-line-number= -o:,--indent= -r,--no-file-warnings -s:: --separator=? -S:: --sep-string=? -t,--omit-header -T,--omit-pagination -v,--show-nonprinting -w:,--width= -W:,--page-width= --help!h --version!h",
    ),
    decl(
        &["comm"],
        Reader,
        "-1 -2 -3 --check-order --nocheck-order --output-delimiter= --total -z,--zero-terminated --help!h --version!h",
    ),
    decl(
        &["cmp"],
        Reader,
        "-b,--print-bytes -i:,--ignore-initial= -l,--verbose -n:,--bytes= -s,--quiet,--silent --help!h -v,--version!h",
    ),
    decl(
        &["diff"],
        Reader,
        "--normal -q,--brief -s,--report-identical-files -c -C:,--context=? -u -U:,--unified=? -e,--ed -n,--rcs -y,--side-by-side -W:,--width= --left-column --suppress-common-lines -p,--show-c-function -F:,--show-function-line= --label= -t,--expand-tabs -T,--initial-tab --tabsize= --suppress-blank-empty -l,--paginate -r,--recursive --no-dereference -N,--new-file --unidirectional-new-file --ignore-file-name-case --no-ignore-file-name-case -x:,--exclude= -X:,--exclude-from= -S:,--starting-file= --from-file= --to-file= -i,--ignore-case -E,--ignore-tab-expansion -Z,--ignore-trailing-space -b,--ignore-space-change -w,--ignore-all-space -B,--ignore-blank-lines -I:,--ignore-matching-lines= -a,--text --strip-trailing-cr -D:,--ifdef= --GTYPE-group-format= --old-group-format= --new-group-format= --changed-group-format= --unchanged-group-format= --line-format= --old-line-format= --new-line-format= --unchanged-line-format= -d,--minimal --horizon-lines= --speed-large-files --color=? --palette= --help!h -v,--version!h",
    ),
    decl(
        &["join"],
        Reader,
        "-a: -e: -i,--ignore-case -j: -o: -t: -v: -1: -2: --check-order --nocheck-order --header -z,--zero-terminated --help!h --version!h",
    ),
    decl(
        &["tr"],
        Reader,
        "-c,-C,--complement -d,--delete -s,--squeeze-repeats -t,--truncate-set1 --help!h --version!h",
    ),
    judged(
        &["uniq"],
        Reader,
        "-c,--count -d,--repeated -D --all-repeated=? -f:,--skip-fields= --group=? -i,--ignore-case -s:,--skip-chars= -u,--unique -z,--zero-terminated -w:,--check-chars= --help!h --version!h",
        second_operand_written,
    ),
    decl(
        &["sort"],
        Reader,
        "-b,--ignore-leading-blanks -d,--dictionary-order -f,--ignore-case -g,--general-numeric-sort -i,--ignore-nonprinting -M,--month-sort -h,--human-numeric-sort -n,--numeric-sort -R,--random-sort --random-source= -r,--reverse --sort= -V,--version-sort --batch-size= -c --check=? -C --compress-program=!x --debug --files0-from= -k:,--key= -m,--merge -o:,--output=!w -s,--stable -S:,--buffer-size= -t:,--field-separator= -T:,--temporary-directory= --parallel= -u,--unique -z,--zero-terminated --help!h --version!h",
    ),
    decl(
        &["shuf"],
        Reader,
        "-e,--echo -i:,--input-range= -n:,--head-count= -o:,--output=!w --random-source= -r,--repeat -z,--zero-terminated --help!h --version!h",
    ),
    judged(
        &["split"],
        Reader,
        "-a:,--suffix-length= --additional-suffix= -b:,--bytes= -C:,--line-bytes= -d --numeric-suffixes=? -x --hex-suffixes=? -e,--elide-empty-files --filter=!c -l:,--lines= -n:,--number= -t:,--separator= -u,--unbuffered --verbose --help!h --version!h",
        pieces,
    ),
    judged(
        &["csplit"],
        Reader,
        "-b:,--suffix-format= -f:,--prefix= -k,--keep-files --suppress-matched -n:,--digits= -s,--quiet,--silent -z,--elide-empty-files --help!h --version!h",
        pieces,
    ),
    judged(
        &["tee"],
        Reader,
        "-a,--append -i,--ignore-interrupts -p --output-error=? --help!h --version!h",
        operands_written,
    ),
    decl(
        &["grep", "egrep", "fgrep", "rgrep"],
        Reader,
        "-E,--extended-regexp -F,--fixed-strings -G,--basic-regexp -P,--perl-regexp -e:,--regexp= -f:,--file= -i,-y,--ignore-case --no-ignore-case -w,--word-regexp -x,--line-regexp -z,--null-data -s,--no-messages -v,--invert-match -V,--version!h --help!h -m:,--max-count= -b,--byte-offset -n,--line-number --line-buffered -H,--with-filename -h,--no-filename --label= -o,--only-matching -q,--quiet,--silent --binary-files= -a,--text -I -d:,--directories= -D:,--devices= -r,--recursive -R,--dereference-recursive --include= --exclude= --exclude-from= --exclude-dir= -L,--files-without-match -l,--files-with-matches -c,--count -T,--initial-tab -Z,--null -B:,--before-context= -A:,--after-context= -C:,--context= -# --group-separator= --no-group-separator --color=? --colour=? -U,--binary -u,--unix-byte-offsets",
    ),
    decl(
        &[
            "zgrep", "zegrep", "zfgrep", "xzgrep", "bzgrep", "zstdgrep", "lzgrep",
        ],
        Reader,
        "-E -F -G -P -e: -f: -i -w -x -z -s -v -V!h -m: -b -n -H -h -o -q -a -c -l -L -r -T -Z -B: -A: -C: -# --help!h --version!h --color=? --colour=?",
    ),
    decl(
        &["zcat", "bzcat", "xzcat", "zstdcat", "lzcat", "gzcat"],
        Reader,
        "-f,--force -q,--quiet -v,--verbose -# -T: --help!h -h -V,--version!h",
    ),
    judged(
        &[
            "gzip", "gunzip", "bzip2", "bunzip2", "xz", "unxz", "lzma", "unlzma", "lz4", "pigz",
        ],
        Reader,
        "-c,--stdout,--to-stdout -d,--decompress,--uncompress -f,--force -h,--help!h -k,--keep -l,--list -L,--license -n,--no-name -N,--name -q,--quiet -r,--recursive --rsyncable -S:,--suffix= --synchronous -t,--test -v,--verbose -V,--version!h -# --fast --best -z,--compress -e,--extreme -T:,--threads= -H,--long-help!h -s,--small -p:,--processes= -0",
        compressor,
    ),
    judged(
        &["zstd", "unzstd"],
        Reader,
        "-o:!w -k,--keep --rm -# -d,--decompress,--uncompress -D: -f,--force -h!h -H,--help!h -V,--version!h -c,--stdout -v,--verbose -q,--quiet -r --filelist= --output-dir-flat=!t --output-dir-mirror=!t --ultra --fast=? --adapt=? --long=? --patch-from= -T: --single-thread --auto-threads= -B: --rsyncable --exclude-compressed --stream-size= --size-hint= --no-dictID --format= -l,--list -t,--test -M: --no-progress --progress --memory= --sparse --no-sparse --trace=!w",
        compressor,
    ),
    decl(
        &["strings"],
        Reader,
        "-a,--all -d,--data -f,--print-file-name -n:,--bytes= -# -t:,--radix= -w,--include-all-whitespace -o -T:,--target= -e:,--encoding= --unicode= -U: -s:,--output-separator= -h,--help!h -v,-V,--version!h",
    ),
    decl(
        &["od"],
        Reader,
        "-A:,--address-radix= --endian= -j:,--skip-bytes= -N:,--read-bytes= -S:: --strings=? -t:,--format= -v,--output-duplicates -w:: --width=? --traditional --help!h --version!h -a -b -c -d -f -i -l -o -s -x",
    ),
    decl(
        &["hexdump", "hd"],
        Reader,
        "-b,--one-byte-octal -X,--one-byte-hex -c,--one-byte-char -C,--canonical -d,--two-bytes-decimal -o,--two-bytes-octal -x,--two-bytes-hex -L::,--color=? -e:,--format= -f:,--format-file= -n:,--length= -s:,--skip= -v,--no-squeezing -h,--help!h -V,--version!h",
    ),
    judged(
        &["xxd"],
        Reader,
        "@long-only -a,-autoskip -b,-bits -C,-capitalize -c:,-cols= -E,-EBCDIC -e -g:,-groupsize= -h,-help!h -i,-include -l:,-len= -n:,-name= -o:,-offset= -p,-ps,-postscript,-plain -r,-revert -d -R: -s:,-seek= -u -v,-version!h",
        xxd,
    ),
    decl(
        &["base64", "base32"],
        Reader,
        "-d,--decode -i,--ignore-garbage -w:,--wrap= --help!h --version!h",
    ),
    decl(
        &["basenc"],
        Reader,
        "--base64 --base64url --base32 --base32hex --base16 --base2msbf --base2lsbf --z85 -d,--decode -i,--ignore-garbage -w:,--wrap= --help!h --version!h",
    ),
    decl(
        &[
            "md5sum",
            "sha1sum",
            "sha224sum",
            "sha256sum",
            "sha384sum",
            "sha512sum",
            "b2sum",
        ],
        Reader,
        "-b,--binary -c,--check -l:,--length= --tag -t,--text -z,--zero --ignore-missing --quiet --status --strict -w,--warn --help!h --version!h",
    ),
    decl(
        &["cksum"],
        Reader,
        "-a:,--algorithm= -b,--base64 -c,--check -l:,--length= --raw --tag --untagged -z,--zero --ignore-missing --quiet --status --strict -w,--warn --debug --help!h --version!h",
    ),
    decl(&["sum"], Reader, "-r -s,--sysv --help!h --version!h"),
    decl(
        &["shasum"],
        Reader,
        "-a:,--algorithm= -b,--binary -c,--check -t,--text -U,--UNIVERSAL -0,--01 --tag -z,--zero -s,--status -q,--quiet --ignore-missing -w,--warn --strict -h,--help!h -v,--version!h",
    ),
    decl(
        &["file"],
        Reader,
        "--help!h -v,--version!h -m:,--magic-file= -z,--uncompress -Z,--uncompress-noreport -b,--brief -c,--checking-printout -e:,--exclude= --exclude-quiet= -f:,--files-from= -F:,--separator= -i,--mime --apple --extension --mime-type --mime-encoding -k,--keep-going -l,--list -L,--dereference -h,--no-dereference -n,--no-buffer -N,--no-pad -0,--print0 -p,--preserve-date -P:,--parameter= -r,--raw -s,--special-files -S,--no-sandbox -C,--compile!W -d,--debug",
    ),
    decl(
        &["stat"],
        Reader,
        "-L,--dereference -f,--file-system --cached= -c:,--format= --printf= -t,--terse --help!h --version!h",
    ),
    decl(
        &["ls", "dir", "vdir"],
        Reader,
        "-a,--all -A,--almost-all --author -b,--escape --block-size= -B,--ignore-backups -c -C --color=? --colour=? -d,--directory -D,--dired -f -F --classify=? --file-type --format= --full-time -g --group-directories-first -G,--no-group -h,--human-readable --si -H,--dereference-command-line --dereference-command-line-symlink-to-dir --hide= --hyperlink=? --indicator-style= -i,--inode -I:,--ignore= -k,--kibibytes -l -L,--dereference -m -n,--numeric-uid-gid -N,--literal -o -p -q,--hide-control-chars --show-control-chars -Q,--quote-name --quoting-style= -r,--reverse -R,--recursive -s,--size -S --sort= --time= --time-style= -t -T:,--tabsize= -u -U -v -w:,--width= -x -X -Z,--context --zero -1 --help!h --version!h",
    ),
    decl(
        &["du"],
        Reader,
        "-0,--null -a,--all --apparent-size -A -B:,--block-size= -b,--bytes -c,--total -D,--dereference-args -d:,--max-depth= --files0-from= -H -h,--human-readable --inodes -k -L,--dereference -l,--count-links -m -P,--no-dereference -S,--separate-dirs --si -s,--summarize -t:,--threshold= --time=? --time-style= -X:,--exclude-from= --exclude= -x,--one-file-system --help!h --version!h",
    ),
    decl(
        &["df"],
        Reader,
        "-a,--all -B:,--block-size= -h,--human-readable -H,--si -i,--inodes -k -l,--local --no-sync --output=? -P,--portability --sync --total -t:,--type= -T,--print-type -x:,--exclude-type= -v --help!h --version!h",
    ),
    decl(
        &["readlink"],
        Reader,
        "-f,--canonicalize -e,--canonicalize-existing -m,--canonicalize-missing -n,--no-newline -q,--quiet -s,--silent -v,--verbose -z,--zero --help!h --version!h",
    ),
    decl(
        &["realpath"],
        Reader,
        "-e,--canonicalize-existing -m,--canonicalize-missing -L,--logical -P,--physical -q,--quiet --relative-to= --relative-base= -s,--strip,--no-symlinks -z,--zero --help!h --version!h",
    ),
    decl(
        &["basename"],
        Reader,
        "-a,--multiple -s:,--suffix= -z,--zero --help!h --version!h",
    ),
    decl(&["dirname"], Reader, "-z,--zero --help!h --version!h"),
    decl(
        &["seq"],
        Reader,
        "-f:,--format= -s:,--separator= -t:,--terminator= -w,--equal-width --help!h --version!h",
    ),
    decl(
        &["iconv"],
        Reader,
        "-f:,--from-code= -t:,--to-code= -l,--list -c -o:,--output=!w -s,--silent --verbose -?,--help!h --usage!h -V,--version!h",
    ),
    decl(
        &["numfmt"],
        Reader,
        "--debug -d:,--delimiter= --field= --format= --from= --from-unit= --grouping --header=? --invalid= --padding= --round= --suffix= --to= --to-unit= -z,--zero-terminated --help!h --version!h",
    ),
    decl(&["nproc"], Reader, "--all --ignore= --help!h --version!h"),
    decl(
        &["tree"],
        Reader,
        "-a -d -l -f -x -L: -R -P: -I: --gitignore --gitfile= --ignore-case --matchdirs --metafirst --prune --info --infofile= --noreport --charset= --filelimit= -o:!w -q -N -Q -p -u -g -s -h --si --du -D --timefmt= -F --inodes --device -v -t -c -U -r --dirsfirst --filesfirst --sort= -i -A -S -n -C -X -J -H: -T: --nolinks --hintro= --houtro= --fromfile --fromtabfile --fflinks --help!h --version!h -0",
    ),
    decl(
        &["namei"],
        Reader,
        "-x,--mountpoints -l,--long -m,--modes -n,--nosymlinks -o,--owners -v,--vertical -Z,--context -h,--help!h -V,--version!h",
    ),
    decl(
        &["look"],
        Reader,
        "-a,--alternative -d,--alphanum -f,--ignore-case -t:,--terminate= -h,--help!h -V,--version!h",
    ),
    decl(&["tsort"], Reader, HV),
    decl(
        &["apropos", "whatis"],
        Reader,
        "-d,--debug -v,--verbose -r,--regex -w,--wildcard -e,--exact -a,--and -l,--long -C:,--config-file= -L:,--locale= -m:,--systems= -M:,--manpath= -s:,--sections=,--section= -?,--help!h --usage!h -V,--version!h",
    ),
    decl(
        &["jq", "gojq", "jaq"],
        Reader,
        "-n,--null-input -R,--raw-input -s,--slurp -c,--compact-output -r,--raw-output -j,--join-output -a,--ascii-output -S,--sort-keys -C,--color-output -M,--monochrome-output --tab --indent= --unbuffered --stream --stream-errors --seq -f:,--from-file= -L: -e,--exit-status --arg= --argjson= --slurpfile= --rawfile= --args --jsonargs --raw-output0 -0 --binary -b -h,--help!h -V,--version!h --build-configuration",
    ),
    decl(
        &["yq"],
        Reader,
        "-i,--inplace!i -e --exit-status -o:,--output-format= -p:,--input-format= -P,--prettyPrint -r,--unwrapScalar=? -C,--colors -M,--no-colors -I:,--indent= -n,--null-input -N,--no-doc -s:,--split-exp=!w --from-file= -0,--nul-output --expression= --front-matter= --header-preprocess=? -v,--verbose -h,--help!h -V,--version!h --xml-attribute-prefix= --csv-auto-parse=? --tsv-auto-parse=? --lua-globals --properties-separator= --string-interpolation=?",
    ),
    decl(
        &[
            "factor", "expr", "tty", "arch", "logname", "users", "hostid", "whoami", "groups",
        ],
        Reader,
        "-s,--silent,--quiet -h,--help!h --version!h",
    ),
    decl(
        &["uname"],
        Reader,
        "-a,--all -s,--kernel-name -n,--nodename -r,--kernel-release -v,--kernel-version -m,--machine -p,--processor -i,--hardware-platform -o,--operating-system --help!h --version!h",
    ),
    decl(
        &["id"],
        Reader,
        "-a -Z,--context -g,--group -G,--groups -n,--name -r,--real -u,--user -z,--zero --help!h --version!h",
    ),
    decl(
        &["getent"],
        Network,
        "-s:,--service= -i,--no-idn -A,--no-addrconfig -?,--help!h --usage!h -V,--version!h",
    ),
    decl(
        &["which"],
        Reader,
        "-a -s --all --skip-alias --skip-functions --read-alias --read-functions --tty-only --show-dot --show-tilde --help!h -v,-V,--version!h",
    ),
    decl(
        &["whereis"],
        Reader,
        "-b -m -s -u -B -M -S -f -l -g -h,--help!h -V,--version!h",
    ),
    decl(
        &["bat", "batcat"],
        Reader,
        "-A,--show-all -p,--plain -l:,--language= -H:,--highlight-line= --file-name= -d,--diff --diff-context= --tabs= --wrap= -S,--chop-long-lines -n,--number --color= --italic-text= --decorations= -f,--force-colorization --paging= --pager=!x -m:,--map-syntax= --ignored-suffix= --theme= --list-themes --style= -r:,--line-range= -L,--list-languages -u,--unbuffered --completion= -h,--help!h -V,--version!h --no-config --no-paging -P --strip-ansi= --nonprintable-notation= --binary= --squeeze-blank -s --squeeze-limit= --config-file --config-dir --cache-dir --diagnostic --acknowledgements",
    ),
    decl(
        &["exa", "eza"],
        Reader,
        "-1,--oneline -l,--long -G,--grid -x,--across -R,--recurse -T,--tree -F,--classify=? --colo=? --color=? --colour=? --color-scale=? --colour-scale=? --icons=? --hyperlink -w:,--width= -a,--all -A,--almost-all -d,--list-dirs -L:,--level= -r,--reverse -s:,--sort= --group-directories-first --group-directories-last -D,--only-dirs -f,--only-files -I:,--ignore-glob= --git-ignore -b,--binary -B,--bytes -g,--group -h,--header -H,--links -i,--inode -m,--modified -M,--mounts -n,--numeric -S,--blocksize -t:,--time= -u,--accessed -U,--created --changed --time-style= --total-size --no-permissions --no-filesize --no-user --no-time --no-git --git --git-repos --git-repos-no-status -@,--extended -Z,--context -o,--octal-permissions -X,--dereference --smart-group -?,--help!h -v,--version!h",
    ),
];
