//! The one table of which option of which client carries a secret.
//!
//! Each row names a program (and the subcommand words that must follow it), the option grammar
//! its arguments are read with — the program's declaration in the policy classifier when it
//! has one, else a grammar written here in the same notation (`src/policy/options`) — the
//! options whose value holds a secret, and any secret the program takes positionally.

/// Where in an option's value the secret is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The whole value.
    Whole,
    /// After the first `:` (`curl -u user:password`); no `:` means no secret (a prompt).
    AfterColon,
    /// After the first `%` (`smbclient -U user%password`).
    AfterPercent,
    /// After the first `=` (`curl -b 'session=VALUE'`); no `=` means a file (a cookie jar).
    AfterEquals,
    /// A `Cookie:` header (`curl -H 'Cookie: session=VALUE'`): after its first `=`. Any other
    /// header is no secret of this rule (`Authorization` has a rule of its own).
    CookieHeader,
}

/// A secret the program takes as an operand rather than as an option value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Positional {
    /// None.
    No,
    /// The operand with this index (`vault login TOKEN`, `smbclient //h/s PASSWORD`), unless it
    /// holds `=` and the flag says so (`vault login username=…`, left to the keyword rule).
    Operand(usize, bool),
    /// The last of the first this many operands (`redis-cli AUTH [USER] PASSWORD`).
    LastOf(usize),
    /// `KEY VALUE` operands of a key-value store: the value, when the key names a secret
    /// (`consul kv put db/password X`, `etcdctl put /app/api_token X`).
    KeyValue,
    /// `htpasswd -b [-c] FILE USER PASSWORD` and `htpasswd -nb USER PASSWORD`.
    HtpasswdBatch,
    /// `net use [DEVICE] \\host\share PASSWORD` and `net user NAME PASSWORD`: Windows'
    /// positional passwords; `/options` are skipped, `*` is a prompt.
    Net,
    /// Every argument that starts with this prefix, the rest of it being the secret (OpenSSL's
    /// pass-phrase arguments `pass:SECRET`, 7-Zip's `-pSECRET`).
    Prefixed(&'static str),
    /// `--from-literal=KEY=SECRET` (Kubernetes secrets).
    FromLiteral,
    /// Windows `/option VALUE` (`false`) and `/option:VALUE` (`true`) secret switches.
    Slash(&'static [(&'static str, bool)]),
    /// Oracle's logon `user/password[@connect]`: the first operand (not an option, not a
    /// `@script`, not `/`-led, without `=`), a `userid=` value, and the word after RMAN's
    /// `target`, `catalog` or `auxiliary`; the password is what lies between the `/` and the
    /// `@` (`/`, `/nolog`, `/@wallet` and `user@db` hold none).
    OracleLogon,
}

/// The grammar a row's arguments are read with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    /// A grammar text written here.
    Own(&'static str),
    /// The policy classifier's declaration of this program.
    Declared(&'static str),
}

/// One client.
#[derive(Debug)]
pub(crate) struct Client {
    /// Program names (matched on the last path component, case-insensitively, `.exe` dropped).
    pub names: &'static [&'static str],
    /// Words that must follow the program (a subcommand), empty for none.
    pub sub: &'static [&'static str],
    /// The option grammar.
    pub grammar: Source,
    /// Options (by any of their names) whose value is a secret.
    pub secrets: &'static [(&'static str, Shape)],
    /// A positional secret.
    pub positional: Positional,
}

use Positional as P;
use Shape::{AfterColon, AfterEquals, AfterPercent, CookieHeader, Whole};

const MYSQL: &str = "-u:,--user= -p::,--password=? -h:,--host= -P:,--port= -S:,--socket= \
    -D:,--database= -e:,--execute= --protocol= --defaults-file= --defaults-extra-file= \
    --ssl-mode= --ssl-ca= --ssl-cert= --ssl-key= --default-character-set= --init-command= \
    -B,--batch -N,--skip-column-names -s,--silent -v,--verbose -t,--table -r,--raw \
    -E,--vertical -f,--force -A,--no-auto-rehash -C,--compress -X,--xml -H,--html -q,--quick \
    --single-transaction --routines --triggers --events --all-databases --databases \
    -d,--no-data --no-create-info --add-drop-table --result-file= --where= --tables \
    --local-infile=? --connect-timeout= --max-allowed-packet= --skip-ssl --no-defaults \
    -V,--version -?,--help";

const MONGO: &str = "-u:,--username= -p:,--password= --host= --port= --authenticationDatabase= \
    --authenticationMechanism= --eval= -f,--file= --quiet --nodb --norc --tls --tlsCAFile= \
    --tlsCertificateKeyFile= --tlsCertificateKeyFilePassword= --apiVersion= --shell \
    --db= -d:,--uri= --archive=? --gzip --out= -o: --collection= -c: --query= -q: --drop";

const LOGIN: &str = "-u:,--username= -p:,--password= --password-stdin -s:,--server= --token= \
    --insecure-skip-tls-verify --certificate-authority= -t:,--tenant= --service-principal \
    --federated-token= --identity --allow-no-subscriptions --tls-verify=? --authfile= \
    --cert-dir= --get-login -v,--verbose";

const LDAP: &str = "-w: -D: -H: -h: -p: -b: -s: -f: -x -W -y: -Z -v -n -c -a: -l: -z: -o: \
    -e: -E: -L -M -P: -Q -R: -U: -X: -Y: -O: -N -I -T: -t -u -A -S: -d: -C -r -M";

/// Consul's command options (Go flags, single dash), for `-token` and `kv put`.
const CONSUL: &str = "@single -token= -token-file= -http-addr= -datacenter= -namespace= \
    -partition= -cas -modify-index= -flags= -acquire -release -session= -base64 -ca-file= \
    -ca-path= -client-cert= -client-key= -tls-server-name= -stale -recurse -separator= \
    -detailed -keys";

const LDAPPASSWD: &str = "-w: -s: -a: -D: -H: -h: -p: -x -W -S -A -t: -T: -v -n -Z -e: -E: \
    -y: -d: -O: -R: -U: -X: -Y: -I -Q -N";

const SMBCLIENT: &str = "-U:,--user= --password= -W:,--workgroup= -N,--no-pass -k -A:,--authentication-file= \
    -c:,--command= -I:,--ip-address= -p:,--port= -m:,--max-protocol= -L:,--list= \
    -D:,--directory= -e -s:,--configfile= -d:,--debuglevel= -n:,--netbiosname= \
    -E -g -B -P,--machine-pass --use-kerberos= -T:,--tar= -b:,--send-buffer= -M:,--message=";

const RABBITMQCTL: &str = "-n:,--node= -q,--quiet -t:,--timeout= -l,--longnames -s,--silent \
    --formatter= -p:,--vhost=";

const ALL: &[Client] = &[
    Client {
        names: &[
            "mysql",
            "mariadb",
            "mysqldump",
            "mysqlimport",
            "mysqlshow",
            "mysqlcheck",
            "mysqlpump",
            "mysqlsh",
            "mysqlbinlog",
            "mariadb-dump",
            "mariadb-admin",
            "mariadb-import",
        ],
        sub: &[],
        grammar: Source::Own(MYSQL),
        secrets: &[("-p", Whole), ("--password", Whole)],
        positional: P::No,
    },
    Client {
        names: &["mysqladmin"],
        sub: &[],
        grammar: Source::Declared("mysqladmin"),
        secrets: &[("-p", Whole), ("--password", Whole)],
        positional: P::No,
    },
    Client {
        names: &["mycli"],
        sub: &[],
        grammar: Source::Own(
            "-u:,--user= -p:,--password= -h:,--host= -P:,--port= -D:,--database= -e:,--execute= -S:,--socket=",
        ),
        secrets: &[("-p", Whole)],
        positional: P::No,
    },
    Client {
        names: &[
            "mongosh",
            "mongo",
            "mongodump",
            "mongorestore",
            "mongoexport",
            "mongoimport",
        ],
        sub: &[],
        grammar: Source::Own(MONGO),
        secrets: &[("-p", Whole), ("--tlsCertificateKeyFilePassword", Whole)],
        positional: P::No,
    },
    Client {
        names: &["sshpass"],
        sub: &[],
        grammar: Source::Own("@posix -p: -f: -d: -P: -e -v -h -V"),
        secrets: &[("-p", Whole)],
        positional: P::No,
    },
    Client {
        names: &[
            "docker", "podman", "nerdctl", "buildah", "skopeo", "oras", "oc", "az",
        ],
        sub: &["login"],
        grammar: Source::Own(LOGIN),
        secrets: &[
            ("-p", Whole),
            ("--token", Whole),
            ("--federated-token", Whole),
        ],
        positional: P::No,
    },
    Client {
        names: &["helm"],
        sub: &["registry", "login"],
        grammar: Source::Own(LOGIN),
        secrets: &[("-p", Whole)],
        positional: P::No,
    },
    Client {
        names: &["vault", "bao"],
        sub: &["login"],
        grammar: Source::Own(
            "@go -method= -path= -no-store -no-print -token-only -address= -namespace= -format= -field= -non-interactive",
        ),
        secrets: &[],
        positional: P::Operand(0, true),
    },
    Client {
        names: &["htpasswd"],
        sub: &[],
        grammar: Source::Own("-c -n -m -2 -5 -B -C: -r: -d -s -p -b!b -i -D -v"),
        secrets: &[],
        positional: P::HtpasswdBatch,
    },
    Client {
        names: &["openssl"],
        sub: &[],
        grammar: Source::Own("@raw"),
        secrets: &[],
        positional: P::Prefixed("pass:"),
    },
    Client {
        names: &["smbclient"],
        sub: &[],
        grammar: Source::Own(SMBCLIENT),
        secrets: &[("-U", AfterPercent), ("--password", Whole)],
        positional: P::Operand(1, false),
    },
    Client {
        names: &["rpcclient", "smbget", "smbcacls", "smbtree", "net-rpc"],
        sub: &[],
        grammar: Source::Own(SMBCLIENT),
        secrets: &[("-U", AfterPercent), ("--password", Whole)],
        positional: P::No,
    },
    Client {
        names: &[
            "ldapsearch",
            "ldapadd",
            "ldapmodify",
            "ldapdelete",
            "ldapwhoami",
            "ldapmodrdn",
            "ldapcompare",
            "ldapexop",
        ],
        sub: &[],
        grammar: Source::Own(LDAP),
        secrets: &[("-w", Whole)],
        positional: P::No,
    },
    Client {
        names: &["ldappasswd"],
        sub: &[],
        grammar: Source::Own(LDAPPASSWD),
        secrets: &[("-w", Whole), ("-s", Whole), ("-a", Whole)],
        positional: P::No,
    },
    Client {
        names: &["curl"],
        sub: &[],
        grammar: Source::Declared("curl"),
        secrets: &[
            ("-u", AfterColon),
            ("-U", AfterColon),
            ("--oauth2-bearer", Whole),
            ("--pass", Whole),
            ("--proxy-pass", Whole),
            ("--tlspassword", Whole),
            ("--proxy-tlspassword", Whole),
            ("-b", AfterEquals),
            ("-H", CookieHeader),
        ],
        positional: P::No,
    },
    Client {
        names: &["wget", "wget2"],
        sub: &[],
        grammar: Source::Declared("wget"),
        secrets: &[
            ("--password", Whole),
            ("--http-password", Whole),
            ("--ftp-password", Whole),
            ("--proxy-password", Whole),
        ],
        positional: P::No,
    },
    Client {
        names: &["redis-cli", "valkey-cli", "keydb-cli"],
        sub: &[],
        grammar: Source::Declared("redis-cli"),
        secrets: &[("-a", Whole), ("--pass", Whole)],
        positional: P::No,
    },
    Client {
        names: &["redis-cli", "valkey-cli", "keydb-cli"],
        sub: &["auth"],
        grammar: Source::Declared("redis-cli"),
        secrets: &[],
        positional: P::LastOf(2),
    },
    Client {
        names: &["etcdctl"],
        sub: &["put"],
        grammar: Source::Declared("etcdctl"),
        secrets: &[],
        positional: P::KeyValue,
    },
    Client {
        names: &["consul"],
        sub: &[],
        grammar: Source::Own(CONSUL),
        secrets: &[("-token", Whole)],
        positional: P::No,
    },
    Client {
        names: &["consul"],
        sub: &["kv", "put"],
        grammar: Source::Own(CONSUL),
        secrets: &[],
        positional: P::KeyValue,
    },
    Client {
        names: &["etcdctl"],
        sub: &[],
        grammar: Source::Declared("etcdctl"),
        secrets: &[("--password", Whole), ("--user", AfterColon)],
        positional: P::No,
    },
    Client {
        names: &["kubectl", "oc", "k3s-kubectl"],
        sub: &[],
        grammar: Source::Own("@raw"),
        secrets: &[],
        positional: P::FromLiteral,
    },
    Client {
        names: &["az"],
        sub: &["keyvault", "secret", "set"],
        grammar: Source::Own(
            "--vault-name= --name= -n: --value= --file= -f: --encoding= -e: --content-type= \
             --description= --disabled= --expires= --not-before= --tags= --id= \
             --subscription= --output= -o: --query= --only-show-errors --debug --verbose",
        ),
        secrets: &[("--value", Whole)],
        positional: P::No,
    },
    Client {
        names: &["aws"],
        sub: &["secretsmanager"],
        grammar: Source::Own(
            "--name= --secret-id= --secret-string= --secret-binary= --description= \
             --kms-key-id= --tags= --client-request-token= --version-stages= \
             --add-replica-regions= --force-overwrite-replica-secret --cli-input-json= \
             --region= --profile= --output= --query= --endpoint-url= --no-cli-pager \
             --no-verify-ssl --debug",
        ),
        secrets: &[("--secret-string", Whole)],
        positional: P::No,
    },
    Client {
        names: &["gh"],
        sub: &["secret", "set"],
        grammar: Source::Own(
            "-b:,--body= -f:,--env-file= -e:,--env= -o:,--org= -v:,--visibility= -r:,--repos= -R:,--repo= -a:,--app= -u,--user --no-store",
        ),
        secrets: &[("-b", Whole)],
        positional: P::No,
    },
    Client {
        names: &["dotnet"],
        sub: &["user-secrets", "set"],
        grammar: Source::Own("-p:,--project= --id= -c:,--configuration= -v,--verbose"),
        secrets: &[],
        positional: P::Operand(1, false),
    },
    Client {
        names: &["psexec", "psexec64", "paexec"],
        sub: &[],
        grammar: Source::Own(
            "@single -u: -p: -s -i -d -h -c -f -v -w: -e -x -l -a: -n: -r: -accepteula -nobanner",
        ),
        secrets: &[("-p", Whole)],
        positional: P::No,
    },
    Client {
        names: &["net"],
        sub: &[],
        grammar: Source::Own("@raw"),
        secrets: &[],
        positional: P::Net,
    },
    Client {
        names: &["schtasks"],
        sub: &[],
        grammar: Source::Own("@raw"),
        secrets: &[],
        positional: P::Slash(&[("/rp", false), ("/p", false)]),
    },
    Client {
        names: &["cmdkey"],
        sub: &[],
        grammar: Source::Own("@raw"),
        secrets: &[],
        positional: P::Slash(&[("/pass:", true)]),
    },
    Client {
        names: &["openssl"],
        sub: &["enc"],
        grammar: Source::Own(
            "@single -k: -kfile= -pass= -in= -out= -K: -iv= -S: -md= -iter= -bufsize= -engine= \
             -e -d -a -A -base64 -salt -nosalt -pbkdf2 -p -P -v -z -none -nopad -debug",
        ),
        secrets: &[("-k", Whole)],
        positional: P::No,
    },
    Client {
        names: &["ssh-keygen"],
        sub: &[],
        grammar: Source::Own(
            "-a: -b: -C: -D: -E: -F: -f: -I: -J: -j: -K: -m: -M: -N: -n: -O: -P: -R: -r: -S: -s: \
             -t: -V: -w: -Y: -Z: -z: -A -B -c -e -G -g -H -h -i -k -L -l -p -Q -q -T -U -u -v -y",
        ),
        secrets: &[("-P", Whole), ("-N", Whole)],
        positional: P::No,
    },
    Client {
        names: &["keytool"],
        sub: &[],
        grammar: Source::Own(
            "@single -storepass= -keypass= -srcstorepass= -deststorepass= -srckeypass= \
             -destkeypass= -new= -keystore= -alias= -storetype= -file= -dname= -keyalg= \
             -keysize= -validity= -srckeystore= -destkeystore= -srcalias= -destalias= \
             -srcstoretype= -deststoretype= -ext= -sigalg= -startdate= -genkey -genkeypair \
             -list -v -noprompt -importcert -exportcert -importkeystore -delete -storepasswd \
             -keypasswd -trustcacerts -rfc -printcert",
        ),
        secrets: &[
            ("-storepass", Whole),
            ("-keypass", Whole),
            ("-srcstorepass", Whole),
            ("-deststorepass", Whole),
            ("-srckeypass", Whole),
            ("-destkeypass", Whole),
            ("-new", Whole),
        ],
        positional: P::No,
    },
    Client {
        names: &["zip", "zipcloak"],
        sub: &[],
        grammar: Source::Own(
            "-P:,--password= -x: -i: -n: -t: -b: -e,--encrypt -r -q -j -m -u -d -f -0 -1 -2 -3 \
             -4 -5 -6 -7 -8 -9 -v -y -T -D -o -F -z -X -l -R -S -A -J -g",
        ),
        secrets: &[("-P", Whole)],
        positional: P::No,
    },
    Client {
        names: &["unzip"],
        sub: &[],
        grammar: Source::Own(
            "-P: -d: -x: -l -v -t -z -T -f -u -o -n -j -C -L -q -a -b -K -M -V -X",
        ),
        secrets: &[("-P", Whole)],
        positional: P::No,
    },
    Client {
        names: &["7z", "7za", "7zr", "7zz"],
        sub: &[],
        grammar: Source::Own("@raw"),
        secrets: &[],
        positional: P::Prefixed("-p"),
    },
    Client {
        names: &["sqlcmd"],
        sub: &[],
        grammar: Source::Own(
            "@posix -S: -U: -P: -d: -Q: -q: -i: -o: -l: -t: -h: -s: -w: -v: -H: -K: -M: -f: -c: \
             -a: -m: -V: -y: -Y: -z: -Z: -A -E -C -N -W -b -e -I -r -R -X -x -k -p -u",
        ),
        secrets: &[("-P", Whole), ("-z", Whole), ("-Z", Whole)],
        positional: P::No,
    },
    Client {
        names: &["bcp"],
        sub: &[],
        grammar: Source::Own(
            "-U: -P: -S: -d: -V: -C: -t: -r: -i: -o: -a: -b: -e: -f: -F: -h: -K: -l: -L: -m: \
             -T -c -n -w -N -q -E -G -k -R -x -v -u -D",
        ),
        secrets: &[("-P", Whole)],
        positional: P::No,
    },
    Client {
        names: &["cqlsh"],
        sub: &[],
        grammar: Source::Own(
            "-u:,--username= -p:,--password= -k:,--keyspace= -f:,--file= -e:,--execute= \
             -b:,--secure-connect-bundle= --cqlversion= --protocol-version= --connect-timeout= \
             --request-timeout= --encoding= --cqlshrc= --browser= --ssl -C,--color --no-color \
             -t,--tty --debug --coverage --insecure-password-without-warning",
        ),
        secrets: &[("-p", Whole), ("--password", Whole)],
        positional: P::No,
    },
    Client {
        names: &["sqlplus", "sqlldr", "expdp", "impdp", "rman", "dgmgrl"],
        sub: &[],
        grammar: Source::Own("@raw"),
        secrets: &[],
        positional: P::OracleLogon,
    },
    Client {
        names: &["rabbitmqctl"],
        sub: &["add_user"],
        grammar: Source::Own(RABBITMQCTL),
        secrets: &[],
        positional: P::Operand(1, false),
    },
    Client {
        names: &["rabbitmqctl"],
        sub: &["change_password"],
        grammar: Source::Own(RABBITMQCTL),
        secrets: &[],
        positional: P::Operand(1, false),
    },
];

/// Hints for the engine: a literal every form the command-line rule handles contains (a
/// program name of a row above, or a literal of a form in `forms.rs`).
pub(super) const HINTS: &[&str] = &[
    "mysql",
    "mariadb",
    "mycli",
    "mongo",
    "sshpass",
    "login",
    "pass",
    "smbclient",
    "ldap",
    "curl",
    "redis",
    "etcdctl",
    "psexec",
    "net use",
    "schtasks",
    "literal",
    "secret",
    "token",
    "auth",
    "pwd",
    "private",
    "api_key",
    "api-key",
    "apikey",
    "rpcclient",
    "openssl",
    "credential",
    "sudo",
    "keygen",
    "zip",
    "7z ",
    "7za",
    "sqlcmd",
    "rabbitmq",
    "bcp ",
    "cqlsh",
    "sqlplus",
    "sqlldr",
    // expdp and impdp: one literal; the long searchers are nearly full and a fifth searcher
    // would cost every text.
    "pdp ",
    "rman ",
    "dgmgrl",
];

/// Every client row.
pub(crate) fn clients() -> &'static [Client] {
    ALL
}
