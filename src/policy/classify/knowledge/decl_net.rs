//! Declared network clients and tools: HTTP clients (uploads, methods, output files), DNS and
//! ICMP probes, raw socket tools, copy tools, TLS, link and firewall tools.

use super::programs::{Call, Class::*, Decl, decl, judged};
use crate::policy::Tier::{Irreversible as T3, Reversible as T1, Stateful as T2};

fn curl(c: &mut Call<'_>) {
    c.raise(T1, "curl makes a network request");
    for v in c.values("-X") {
        let method = c.value_text(v).to_ascii_uppercase();
        if !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") {
            c.raise(
                T2,
                format!("curl -X {method} asks the server to change something"),
            );
        }
    }
    if c.values("-w")
        .iter()
        .any(|v| c.value_text(*v).contains("%output{"))
    {
        c.raise(T2, "curl --write-out %output{…} writes a file it names");
    }
    c.j.sends_stdin = true;
}

fn wget(c: &mut Call<'_>) {
    c.raise(T1, "wget makes a network request");
    for v in c.values("--method") {
        let method = c.value_text(v).to_ascii_uppercase();
        if !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") {
            c.raise(
                T2,
                format!("wget --method={method} asks the server to change something"),
            );
        }
    }
    let to_stdout = c.values("-O").iter().any(|v| c.value_text(*v) == "-");
    let named = !c.values("-O").is_empty();
    if !to_stdout && !named && !c.has("--spider") {
        // Saved under the last path segment of each URL, in -P DIR or the working directory.
        for at in c.operands() {
            let url = c.args().get(at).map_or("", |w| w.text.as_str());
            let tail = url.split(['?', '#']).next().unwrap_or(url);
            let file = tail
                .rsplit('/')
                .next()
                .filter(|f| !f.is_empty() && !tail.ends_with("//"));
            let file = file.unwrap_or("index.html").to_string();
            let literal = c.args().get(at).is_some_and(|w| w.literal);
            c.j.writes.push(crate::policy::classify::paths::Dest {
                path: file,
                literal,
                base: c.base.clone(),
                replaces: false,
            });
        }
    }
}

fn nc(c: &mut Call<'_>) {
    c.j.sends_stdin = true;
    let probe = c.has("-z") && !c.has("-l") && !c.has("-e") && !c.has("-c");
    if probe {
        c.raise(T1, "nc -z probes a port");
    } else {
        let name = c.name.to_string();
        c.raise(T2, format!("{name} opens a connection and sends its input"));
    }
}

fn always_sends(c: &mut Call<'_>) {
    c.j.sends_stdin = true;
    let name = c.name.to_string();
    c.raise(
        T2,
        format!("{name} connects and sends data (or runs programs)"),
    );
    for at in 0..c.args().len() {
        c.opaque(at);
    }
}

/// An operand naming a remote path (`host:path`, `user@host:path`), not a local one.
fn remote(op: &str) -> bool {
    match op.find(':') {
        Some(i) => !op[..i].contains('/'),
        None => false,
    }
}

/// `scp`/`rsync`: the last operand is the destination; a remote one is an upload.
fn copy_tool(c: &mut Call<'_>) {
    let ops = c.operands();
    let name = c.name.to_string();
    if c.name == "rsync" && (c.has("-n") || c.has("--list-only")) {
        c.describe("rsync --dry-run/--list-only changes nothing");
        return;
    }
    let Some((&dest, sources)) = ops.split_last() else {
        return;
    };
    let text = c
        .args()
        .get(dest)
        .map_or("", |w| w.text.as_str())
        .to_string();
    if sources.is_empty() && c.name == "rsync" {
        c.raise(T1, "rsync with one operand lists it");
        return;
    }
    if remote(&text) {
        c.raise(T2, format!("{name} uploads to another host"));
    } else {
        c.raise(T1, format!("{name} copies files here"));
        c.write_operand(dest, false);
    }
}

/// `openssl SUBCOMMAND -opts`: listening, engines and CAs change state; `-out` files are
/// judged by the path judge (the grammar tags them).
fn openssl(c: &mut Call<'_>) {
    let sub = c.operand_texts().first().copied().unwrap_or("").to_string();
    match sub.as_str() {
        "s_server" | "s_time" => c.raise(T2, "openssl s_server listens for connections"),
        "s_client" => {
            c.j.sends_stdin = true;
            c.raise(T1, "openssl s_client connects to a server");
        }
        "ca" | "ocsp" | "ts" | "srp" => c.raise(
            T2,
            format!("openssl {sub} keeps a database or talks to a responder"),
        ),
        "engine" if c.has("-pre") || c.has("-post") => {
            c.raise(T2, "openssl engine -pre/-post loads code")
        }
        "genrsa" | "genpkey" | "req" | "rand" | "enc" | "pkcs12" | "rsa" | "ec" | "pkey"
        | "x509" | "dgst" | "base64" | "crl" | "verify" | "version" | "ciphers" | "list"
        | "speed" | "prime" | "errstr" | "asn1parse" | "passwd" | "dhparam" | "pkeyutl"
        | "smime" | "cms" | "sess_id" | "kdf" | "mac" | "storeutl" | "info" | "" | "help"
        | "ecparam" | "rsautl" | "crl2pkcs7" | "pkcs7" | "pkcs8" | "nseq" | "spkac" | "gendsa"
        | "dsa" | "dsaparam" | "sha256" | "sha1" | "md5" | "sha512" => {}
        _ => c.raise(T2, format!("openssl {sub} is not known to be read-only")),
    }
}

fn ethtool(c: &mut Call<'_>) {
    let destroys = ["-E", "-f", "--reset"].iter().any(|o| c.has(o));
    let changes = c.has_tag('m');
    if destroys {
        c.raise(
            T3,
            "ethtool writes the EEPROM, flashes firmware or resets the device",
        );
    } else if changes {
        c.raise(T2, "ethtool changes device settings");
    }
}

fn route(c: &mut Call<'_>) {
    if c.operand_texts()
        .iter()
        .any(|o| matches!(*o, "add" | "del" | "delete" | "flush"))
    {
        c.raise(T2, "route changes the routing table");
    }
}

fn iw(c: &mut Call<'_>) {
    let words = c.operand_texts();
    let change = [
        "set",
        "connect",
        "disconnect",
        "del",
        "add",
        "join",
        "leave",
        "switch",
        "enable",
        "disable",
        "flush",
        "ibss",
        "mesh",
        "ocb",
        "offchannel",
        "cqm",
        "coalesce",
        "wowlan",
    ];
    if words.iter().any(|w| change.contains(w))
        && !(words.contains(&"reg") && words.contains(&"get"))
    {
        c.raise(T2, "iw changes wireless settings");
    } else if words.contains(&"scan") && !words.contains(&"dump") {
        c.raise(T1, "iw scan triggers a scan");
    }
}

fn nft(c: &mut Call<'_>) {
    match c.operand_texts().first().copied() {
        Some("list" | "monitor" | "describe") | None => {}
        Some("flush" | "destroy") => c.raise(T3, "nft flush/destroy removes rules"),
        Some("delete") if c.operand_texts().get(1) == Some(&"table") => {
            c.raise(T3, "nft delete table removes rules")
        }
        Some(v) => {
            let v = v.to_string();
            c.raise(T2, format!("nft {v} changes the ruleset"));
        }
    }
}

fn ufw(c: &mut Call<'_>) {
    match c.operand_texts().first().copied() {
        Some("status" | "show" | "version" | "app")
            if c.operand_texts().get(1) != Some(&"update") => {}
        Some("reset") => c.raise(T3, "ufw reset removes every rule"),
        None => {}
        Some(v) => {
            let v = v.to_string();
            c.raise(T2, format!("ufw {v} changes the firewall"));
        }
    }
}

pub(super) const DECLS: &[Decl] = &[
    judged(
        &["curl"],
        Network,
        "--abstract-unix-socket= --alt-svc=!w --anyauth -a,--append --aws-sigv4= --basic --ca-native --cacert= --capath= -E:,--cert=!k --cert-status --cert-type= --ciphers= --compressed --compressed-ssh -K:,--config=!r --connect-timeout= --connect-to= -C:,--continue-at= -b:,--cookie= -c:,--cookie-jar=!w --create-dirs --create-file-mode= --crlf --crlfile= --curves= -d:,--data=!n --data-ascii=!n --data-binary=!n --data-raw=!n --data-urlencode=!n --delegation= --digest -q,--disable --disable-eprt --disable-epsv --disallow-username-in-url --dns-interface= --dns-ipv4-addr= --dns-ipv6-addr= --dns-servers= --doh-cert-status --doh-insecure --doh-url= -D:,--dump-header=!w --ech= --egd-file= --engine=!x --etag-compare= --etag-save=!w --expect100-timeout= -f,--fail --fail-early --fail-with-body --false-start -F:,--form=!n --form-escape --form-string=!n --ftp-account= --ftp-alternative-to-user= --ftp-create-dirs!s --ftp-method= --ftp-pasv -P:,--ftp-port= --ftp-pret --ftp-skip-pasv-ip --ftp-ssl-ccc --ftp-ssl-ccc-mode= --ftp-ssl-control -G,--get -g,--globoff --happy-eyeballs-timeout-ms= --haproxy-clientip= --haproxy-protocol -I,--head -H:,--header= -h,--help!h --hostpubmd5= --hostpubsha256= --hsts=!w --http0.9 -0,--http1.0 --http1.1 --http2 --http2-prior-knowledge --http3 --http3-only --ignore-content-length -i,--include -k,--insecure --interface= --ip-tos= --ipfs-gateway= -4,--ipv4 -6,--ipv6 --json=!n -j,--junk-session-cookies --keepalive-cnt= --keepalive-time= --key=!k --key-type= --krb= --libcurl=!w --limit-rate= -l,--list-only --local-port= -L,--location --location-trusted --login-options= --mail-auth= --mail-from= --mail-rcpt=!n --mail-rcpt-allowfails -M,--manual!h --max-filesize= --max-redirs= -m:,--max-time= --metalink --mptcp --negotiate -n,--netrc --netrc-file= --netrc-optional -:,--next --no-alpn -N,--no-buffer --no-clobber --no-keepalive --no-npn --no-progress-meter --no-sessionid --noproxy= --ntlm --ntlm-wb --oauth2-bearer=!k -o:,--output=!w --output-dir=!t -Z,--parallel --parallel-immediate --parallel-max= --pass=!k --path-as-is --pinnedpubkey= --post301 --post302 --post303 --preproxy= --progress-bar --proto= --proto-default= --proto-redir= -x:,--proxy= --proxy-anyauth --proxy-basic --proxy-ca-native --proxy-cacert= --proxy-capath= --proxy-cert=!k --proxy-cert-type= --proxy-ciphers= --proxy-crlfile= --proxy-digest --proxy-header= --proxy-http2 --proxy-insecure --proxy-key=!k --proxy-key-type= --proxy-negotiate --proxy-ntlm --proxy-pass=!k --proxy-pinnedpubkey= --proxy-service-name= --proxy-ssl-allow-beast --proxy-ssl-auto-client-cert --proxy-tls13-ciphers= --proxy-tlsauthtype= --proxy-tlspassword=!k --proxy-tlsuser= --proxy-tlsv1 -U:,--proxy-user=!k --proxy1.0= -p,--proxytunnel --pubkey= -Q:,--quote=!s --random-file= -r:,--range= --rate= --raw -e:,--referer= -J,--remote-header-name!W -O,--remote-name!W --remote-name-all!W -R,--remote-time --remove-on-error --request-target= --resolve= --retry= --retry-all-errors --retry-connrefused --retry-delay= --retry-max-time= --sasl-authzid= --sasl-ir --service-name= -S,--show-error -s,--silent --skip-existing --socks4= --socks4a= --socks5= --socks5-basic --socks5-gssapi --socks5-gssapi-nec --socks5-gssapi-service= --socks5-hostname= -Y:,--speed-limit= -y:,--speed-time= --ssl --ssl-allow-beast --ssl-auto-client-cert --ssl-no-revoke --ssl-reqd --ssl-revoke-best-effort -2,--sslv2 -3,--sslv3 --stderr=!w --styled-output --suppress-connect-headers --tcp-fastopen --tcp-nodelay -t:,--telnet-option= --tftp-blksize= --tftp-no-options -z:,--time-cond= --tls-max= --tls13-ciphers= --tlsauthtype= --tlspassword=!k --tlsuser= -1,--tlsv1 --tlsv1.0 --tlsv1.1 --tlsv1.2 --tlsv1.3 --tr-encoding --trace=!w --trace-ascii=!w --trace-config= --trace-ids --trace-time --unix-socket= -T:,--upload-file=!n --url= --url-query= -B,--use-ascii -u:,--user=!k -A:,--user-agent= --variable= -v,--verbose -V,--version!h -w:,--write-out= --xattr -X:,--request=",
        curl,
    ),
    judged(
        &["wget", "wget2"],
        Network,
        "-V,--version!h -h,--help!h -b,--background!1 -e:,--execute=!r -o:,--output-file=!w -a:,--append-output=!w -d,--debug -q,--quiet -v,--verbose -n: --no-verbose --report-speed= -i:,--input-file= -F,--force-html -B:,--base= --config=!r --no-config --rejected-log=!w -t:,--tries= --retry-connrefused --retry-on-host-error --retry-on-http-error= -O:,--output-document=!w --no-clobber --no-netrc -c,--continue --start-pos= --progress= --show-progress -N,--timestamping --no-if-modified-since --no-use-server-timestamps -S,--server-response --spider -T:,--timeout= --dns-timeout= --connect-timeout= --read-timeout= -w:,--wait= --waitretry= --random-wait --no-proxy -Q:,--quota= --bind-address= --limit-rate= --no-dns-cache --restrict-file-names= --ignore-case -4,--inet4-only -6,--inet6-only --prefer-family= --user= --password=!k --ask-password --use-askpass=!x --no-iri --local-encoding= --remote-encoding= --unlink --xattr --no-directories -x,--force-directories!W --no-host-directories --protocol-directories -P:,--directory-prefix=!C --cut-dirs= --http-user= --http-password=!k --no-cache --default-page= -E,--adjust-extension --ignore-length --header= --compression= --max-redirect= --proxy-user= --proxy-password=!k --referer= --save-headers -U:,--user-agent= --no-http-keep-alive --no-cookies --load-cookies= --save-cookies=!w --keep-session-cookies --post-data=!n --post-file=!n --method= --body-data=!n --body-file=!n --content-disposition --content-on-error --auth-no-challenge --secure-protocol= --https-only --no-check-certificate --certificate=!k --certificate-type= --private-key=!k --private-key-type= --ca-certificate= --ca-directory= --crl-file= --pinnedpubkey= --ciphers= --no-hsts --hsts-file= --ftp-user= --ftp-password=!k --no-remove-listing --no-glob --no-passive-ftp --preserve-permissions --retr-symlinks --ftps-implicit --ftps-resume-ssl --ftps-clear-data-connection --ftps-fallback-to-ftp --warc-file=!W --warc-header= --warc-max-size= --warc-cdx --warc-dedup= --no-warc-compression --no-warc-digests --no-warc-keep-log --warc-tempdir= -r,--recursive!W -l:,--level= --delete-after -k,--convert-links!W --convert-file-only --backups= -K,--backup-converted -m,--mirror!W -p,--page-requisites!W --strict-comments -A:,--accept= -R:,--reject= --accept-regex= --reject-regex= --regex-type= -D:,--domains= --exclude-domains= --follow-ftp --follow-tags= --ignore-tags= -H,--span-hosts -L,--relative -I:,--include-directories= --trust-server-names -X:,--exclude-directories= --no-parent",
        wget,
    ),
    decl(
        &["ping", "ping6", "ping4"],
        Network,
        "-4 -6 -a -A -b -B -c: -C -d -D -e: -f -h!h -H -i: -I: -l: -L -m: -M: -n -O -p: -q -Q: -r -R -s: -S: -t: -T: -U -v -V!h -w: -W: -3",
    ),
    decl(
        &["dig"],
        Network,
        "-4 -6 -b: -c: -f: -h!h -k: -m -p: -q: -r -t: -u -v!h -x: -y:!k",
    ),
    decl(
        &["host"],
        Network,
        "-a -A -c: -C -d -l -m: -N: -r -R: -s -t: -T -U -v -V!h -w -W: -4 -6",
    ),
    decl(
        &["nslookup"],
        Network,
        "@single -type= -query= -querytype= -q= -port= -timeout= -retry= -debug -nodebug -d2 -nod2 -vc -novc -recurse -norecurse -search -nosearch -domain= -class= -all -sil -silent -fail -nofail -version!h -help!h",
    ),
    decl(
        &["traceroute", "traceroute6", "tcptraceroute"],
        Network,
        "-4 -6 -d,--debug -F,--dont-fragment -f:,--first= -g:,--gateway= -I,--icmp -T,--tcp -U,--udp -D,--dccp -P:,--protocol= -i:,--interface= -m:,--max-hops= -N:,--sim-queries= -n -p:,--port= -t:,--tos= -l:,--flowlabel= -w:,--wait= -q:,--queries= -r -s:,--source= -z:,--sendwait= -e,--extensions -A,--as-path-lookups -M:,--module= -O:,--options= --sport= --fwmark= --mtu --back -V,--version!h --help!h",
    ),
    decl(
        &["tracepath", "tracepath6"],
        Network,
        "-4 -6 -b -l: -m: -n -p: -V!h",
    ),
    decl(
        &["mtr"],
        Network,
        "-F:,--filename= -4 -6 -u,--udp -T,--tcp -S,--sctp -P:,--port= -L:,--localport= -s:,--psize= -B:,--bitpattern= -i:,--interval= -G:,--gracetime= -Q:,--tos= -e,--mpls -Z:,--timeout= -M:,--mark= -r,--report -w,--report-wide -c:,--report-cycles= -j,--json -x,--xml -C,--csv -l,--raw -p,--split -t,--curses -g,--gtk --displaymode= -n,--no-dns -b,--show-ips -o:,--order= -y:,--ipinfo= -z,--aslookup -I:,--interface= -a:,--address= -f:,--first-ttl= -m:,--max-ttl= -U:,--max-unknown= -h,--help!h -v,--version!h",
    ),
    decl(
        &["arping"],
        Network,
        "-A -b -c: -D -f -h!h -I: -q -s: -U -V!h -w: -i: -0 -C: -d -e -p -P -r -R -u -v -Q: -t: -T: -W: -B -S:",
    ),
    decl(
        &["whois"],
        Network,
        "-h: -p: -H -I -a -b -B -c -d -F -g: -G -i: -K -l -L -m -M -q: -r -R -s: -t: -T: -v: -x --verbose --no-recursion --help!h --version!h",
    ),
    judged(
        &["nc", "ncat", "netcat", "nc.openbsd", "nc.traditional"],
        Network,
        "-4 -6 -b -C -D -d -F -h!h -I: -i: -k -l -M: -m: -N -n -O: -P: -p: -q: -r -S -s: -T: -t -U -u -V: -v -W: -w: -X: -x: -Z -z -e:!x -c:!x --exec=!x --sh-exec=!x --lua-exec=!x --listen --keep-open --send-only --recv-only --ssl --version!h --help!h -o:!w --output=!w --append-output",
        nc,
    ),
    judged(
        &[
            "socat", "telnet", "ftp", "sftp", "lftp", "tftp", "mail", "mailx", "sendmail", "mutt",
            "swaks",
        ],
        Network,
        "-h,--help!h -V,--version!h",
        always_sends,
    ),
    judged(
        &["scp"],
        Network,
        "-3 -4 -6 -A -B -C -O -p -q -R -r -T -v -c: -D: -F:!r -i: -J: -l: -o:!x -P: -S:!x -X:",
        copy_tool,
    ),
    judged(
        &["rsync"],
        Network,
        "-v,--verbose --info= --debug= --stderr= -q,--quiet --no-motd -c,--checksum -a,--archive --no-OPTION -r,--recursive -R,--relative --no-implied-dirs -b,--backup --backup-dir= --suffix= -u,--update --inplace --append --append-verify -d,--dirs --old-dirs --mkpath -l,--links -L,--copy-links --copy-unsafe-links --safe-links --munge-links -k,--copy-dirlinks -K,--keep-dirlinks -H,--hard-links -p,--perms -E,--executability --chmod= -A,--acls -X,--xattrs -o,--owner -g,--group --devices --copy-devices --write-devices!s --specials -D -t,--times -U,--atimes --open-noatime -N,--crtimes -O,--omit-dir-times -J,--omit-link-times --super --fake-super -S,--sparse --preallocate -n,--dry-run -W,--whole-file --checksum-choice= --cc= -x,--one-file-system -B:,--block-size= -e:,--rsh=!x --rsync-path=!x --existing --ignore-existing --remove-source-files!d --del --delete!d --delete-before!d --delete-during!d --delete-delay!d --delete-after!d --delete-excluded!d --delete-missing-args!d --ignore-missing-args --ignore-errors --force --max-delete= --max-size= --min-size= --max-alloc= --partial --partial-dir= --delay-updates -m,--prune-empty-dirs --numeric-ids --usermap= --groupmap= --chown= --timeout= --contimeout= -I,--ignore-times --size-only -@:,--modify-window= -T:,--temp-dir= -y,--fuzzy --compare-dest= --copy-dest= --link-dest= -z,--compress --compress-choice= --zc= --compress-level= --zl= --skip-compress= -C,--cvs-exclude -f:,--filter= -F --exclude= --exclude-from= --include= --include-from= --files-from= -0,--from0 --old-args -s,--secluded-args --trust-sender --copy-as= --address= --port= --sockopts= --blocking-io --outbuf= --stats -8,--8-bit-output -h,--human-readable --progress -P -i,--itemize-changes -M:,--remote-option=!x --out-format= --log-file=!w --log-file-format= --password-file= --early-input= --list-only --bwlimit= --stop-after= --stop-at= --fsync --write-batch=!w --only-write-batch=!w --read-batch= --protocol= --iconv= --checksum-seed= -4,--ipv4 -6,--ipv6 -V,--version!h --help!h",
        copy_tool,
    ),
    judged(
        &["openssl"],
        Network,
        "@single -in= -out=!w -keyout=!w -outform= -inform= -noout -text -subject -issuer -dates -enddate -startdate -fingerprint -serial -hash -subject_hash -issuer_hash -purpose -modulus -pubkey -nameopt= -certopt= -ext= -checkend= -email -ocsp_uri -alias -trustout -new -x509 -newkey= -key= -days= -subj= -config=!r -extensions= -reqexts= -nodes -noenc -batch -verify -sha256 -sha1 -sha512 -md5 -hex -binary -r -c -d -e -a -A -base64 -pbkdf2 -iter= -k= -K= -iv= -S= -salt -nosalt -pass=!k -passin=!k -passout=!k -aes256 -aes128 -des3 -connect= -servername= -showcerts -starttls= -CAfile= -CApath= -cert= -certform= -brief -quiet -tls1_2 -tls1_3 -alpn= -crlf -ign_eof -no_ign_eof -status -msg -debug -state -prexit -host= -port= -accept= -www -WWW -engine=!x -provider= -provider-path=!x -propquery= -rand= -writerand=!w -out_form= -untrusted= -CRLfile= -crl_check -crl_check_all -policy_check -purpose= -verify_hostname= -verify_ip= -verify_email= -help!h -version!h -v -pre= -post= -t -tt -nocert -list -ciphersuites= -cipher= -stdname -s -V -inkey= -sign= -keyform= -sigopt= -signature= -pkeyopt= -algorithm= -genparam -paramfile= -outpubkey -pubin -pubout -check -noout -nokeys -nocerts -clcerts -cacerts -info -legacy -export -chain -name= -caname= -macalg= -keypbe= -certpbe= -descert -twopass -nomac -noiter -maciter -nomaciter -dump -strparse= -genstr= -genconf= -offset= -length= -i -inform_der -oid= -crypt -1 -5 -6 -apr1 -aixmd5 -stdin -table -reverse -digest= -sigopt= -mac= -macopt= -kdfopt= -keylen= -numbits= -primes= -2 -3 -C -check -generate -bits= -safe -dsaparam -in_form= -ext_form=",
        openssl,
    ),
    judged(
        &["ethtool"],
        Risky,
        "@posix -a!m -A!m -b -c!m -C!m -d -e -E!m -f!m -g!m -G!m -h!h --help!h -i -k!m -K!m -l!m -L!m -m -n!m -N!m -p!m -P -r!m -s!m -S -t!m -T -u!m -U!m -w!m -W!m -x!m -X!m --version!h --debug= --json -I --show-priv-flags --set-priv-flags!m --show-fec --set-fec!m --show-eee --set-eee!m --show-features --features!m --show-channels --show-ring --show-coalesce --show-pause --show-time-stamping --show-rxfh --show-permaddr --show-tunnels --show-module --set-module!m --reset!m --flash!m --change!m --cable-test!m --cable-test-tdr!m --show-mm --set-mm!m --show-pse --set-pse!m --show-plca --set-plca!m --monitor --module-info --dump-module-eeprom --statistics --register-dump --eeprom-dump --driver --phy-statistics --show-nfc --show-ntuple --config-nfc!m --config-ntuple!m --get-dump --set-dump!m --show-rxfh-indir --set-rxfh-indir!m --all-groups --groups=",
        ethtool,
    ),
    decl(
        &["arp"],
        Reader,
        "-a,--display -n,--numeric -v,--verbose -i:,--device= -H:,--hw-type=,-t: -e -D,--use-device -d,--delete!s -s,--set!s -f,--file!s -h,--help!h -V,--version!h",
    ),
    judged(
        &["route"],
        Risky,
        "-n,--numeric -e,--extend -v,--verbose -C,--cache -F,--fib -A: -4 -6 --inet --inet6 -h,--help!h -V,--version!h -net -host",
        route,
    ),
    decl(
        &["conntrack"],
        Risky,
        "-L,--dump -G,--get -D,--delete!s -I,--create!s -U,--update!s -E,--event -C,--count -S,--stats -F,--flush!s -R,--load-file=!s -h,--help!h -V,--version!h -z,--zero!s -o:,--output= -e:,--event-mask= -b:,--buffer-size= -f:,--family= -n,--src-nat -g,--dst-nat -j,--any-nat -w:,--zone= -p:,--proto= -s:,--orig-src=,--src= -d:,--orig-dst=,--dst= -r:,--reply-src= -q:,--reply-dst= --sport=,--orig-port-src= --dport=,--orig-port-dst= --reply-port-src= --reply-port-dst= -t:,--timeout= -u:,--status= -m:,--mark= -c:,--secmark= -l:,--label= -a:,--label-add=!s -x:,--label-del=!s --state= -4 -6 --tuple-src= --tuple-dst= --mask-src= --mask-dst=",
    ),
    judged(&["iw"], Risky, "@posix --debug --version!h -h!h", iw),
    decl(
        &[
            "iptables",
            "ip6tables",
            "iptables-legacy",
            "ip6tables-legacy",
            "iptables-nft",
            "ip6tables-nft",
            "ebtables",
            "arptables",
        ],
        Risky,
        "-A:,--append=!s -C:,--check= -D:,--delete=!s -I:,--insert=!s -R:,--replace=!s -L::,--list=? -S::,--list-rules=? -F::,--flush=?!d -Z::,--zero=?!s -N:,--new-chain=!s -X::,--delete-chain=?!d -P:,--policy=!s -E:,--rename-chain=!s -t:,--table= -n,--numeric -v,--verbose -x,--exact --line-numbers -w::,--wait=? -W:,--wait-interval= --modprobe=!x -4,--ipv4 -6,--ipv6 -h,--help!h -V,--version!h -c:,--set-counters=!s",
    ),
    decl(
        &[
            "iptables-save",
            "ip6tables-save",
            "iptables-legacy-save",
            "iptables-nft-save",
            "ebtables-save",
        ],
        Reader,
        "-M:,--modprobe=!x -f:,--file=!w -c,--counters -t:,--table= -V,--version!h -h,--help!h",
    ),
    judged(
        &["nft"],
        Risky,
        "-a,--handle -c,--check -d:,--debug= -e,--echo -f:,--file=!r -h,--help!h -i,--interactive!r -I:,--includepath= -j,--json -n,--numeric -N,--reversedns -o,--optimize -s,--stateless -S,--service -t,--terse -T,--numeric-time -u,--guid -v,--version!h -V -y,--numeric-priority -p,--numeric-protocol",
        nft,
    ),
    judged(
        &["ufw"],
        Risky,
        "@posix --dry-run --force --version!h --help!h",
        ufw,
    ),
];
