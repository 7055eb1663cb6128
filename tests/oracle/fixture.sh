#!/bin/sh
# Build the oracle's fixture directory (argument): small files, archives, a certificate, a key
# pair and a git repository, so candidate commands find what they name.
set -u
cd "$1" || exit 1
mkdir -p home d sub/deep
printf 'hello\nworld\nfoo bar\nerror: x\n' > f
cp f a; cp f in; cp f x; cp f y; cp f conf; cp f app.log; cp f syslog
printf 'hello\nthere\n' > b
seq 1 300 > big
printf '{"a":1,"items":[{"name":"x"}],"data":{"password":"cGFzcw=="}}\n' > f.json
cp f.json x.json; printf 'a: 1\nb: [1, 2]\n' > f.yaml
gzip -c f > f.gz 2>/dev/null; xz -c f > f.xz 2>/dev/null; zstd -qc f > f.zst 2>/dev/null
bzip2 -c f > f.bz2 2>/dev/null
tar -cf a.tar f a 2>/dev/null; tar -czf a.tgz f a 2>/dev/null; cp a.tar x.tar 2>/dev/null
md5sum f > sums; cp sums f.md5; printf 'f\na\nb\n' > list
od -An -tx1 f | tr -d ' \n' > hex
openssl req -x509 -newkey rsa:2048 -nodes -keyout k -out c.pem -subj /CN=oracle -days 2 >/dev/null 2>&1
ssh-keygen -q -t ed25519 -N '' -f key >/dev/null 2>&1
ln -s f link
printf 'PATH=/usr/bin\n' > env.sh
git init -q repo >/dev/null 2>&1 && (
  cd repo && git config user.email o@example.com && git config user.name oracle &&
  git config core.checkStat minimal && echo x > f && git add f && git commit -qm one &&
  echo y >> f && git commit -qam two && git tag v1 && git branch feature
) >/dev/null 2>&1
sleep 1
git -C repo status >/dev/null 2>&1
exit 0
