#!/bin/sh
# The oracle's throwaway sandboxes. Run as root inside fresh mount, network, PID, UTS and IPC
# namespaces (`unshare --mount --net --pid --uts --ipc --fork --kill-child`):
#   sandbox.sh WORKDIR FIXTURE
# then write one command file path per line on standard input. For each, a fresh overlay over a
# read-only bind of / (upper directory on a tmpfs), fresh /run and /tmp, a minimal /dev, a
# read-only /sys and, in a PID namespace of its own, a fresh /proc (its /proc/sys read-only):
# the file is run by bash, chrooted into the overlay, in FIXTURE, with a reduced capability
# bounding set and under strace (global-state system calls are recorded, and fail for lack of
# capability), and killed after 2 s. The report says what changed — files left in the upper
# directory, state before/after (links, addresses, routes, rules, neighbours, host name, IPC,
# mounts, /dev, /run, /tmp), recorded system calls — and ends with `== end`. Everything this
# mounts dies with the namespace.
set -eu
W=$1; FIX=$2
mount -t tmpfs -o size=256m,mode=700 tmpfs "$W"
mkdir -p "$W/lower"
mount --bind / "$W/lower"
mount -o remount,bind,ro "$W/lower"
mount -t proc proc /proc
n=0
# The namespaces are the sandbox's own, so the state is read from outside the chroot.
state() {
  hostname; cat /proc/sys/kernel/domainname
  ip -d link 2>&1; ip addr 2>&1; ip -4 route show table all 2>&1; ip -6 route show table all 2>&1
  ip rule 2>&1; ip neigh 2>&1; ipcs 2>&1
  ls -A "$1/dev" "$1/dev/shm"
  find "$1/run" "$1/tmp" -mindepth 1 2>&1 | sed "s|^$1||"
  # Mounts, except the sandbox's own (a mount inside the chroot needs CAP_SYS_ADMIN, which the
  # command does not have; strace records the attempt).
  cut -d" " -f4-6,9- /proc/self/mountinfo | awk -v w="$W" 'index($2, w) != 1'
}
while read -r CMD; do
  n=$((n + 1))
  U="$W/u$n"; M="$U/merged"
  mkdir -p "$U/upper" "$U/work" "$M"
  mount -t overlay overlay -o "lowerdir=$W/lower,upperdir=$U/upper,workdir=$U/work" "$M"
  mount -t sysfs -o ro sysfs "$M/sys"
  # Fresh /run and /tmp: the host's daemons listen on Unix sockets there (a new network
  # namespace does not hide sockets in the file system).
  mount -t tmpfs -o size=8m,mode=755 tmpfs "$M/run"
  mount -t tmpfs -o size=32m,mode=1777 tmpfs "$M/tmp"
  mount -t tmpfs -o size=8m,mode=755 tmpfs "$M/dev"
  for d in null zero full random urandom tty; do
    touch "$M/dev/$d"; mount --bind "/dev/$d" "$M/dev/$d"
  done
  mkdir "$M/dev/shm" "$M/dev/pts"
  mount -t tmpfs -o size=8m tmpfs "$M/dev/shm"
  ln -s /proc/self/fd "$M/dev/fd"
  ln -s /proc/self/fd/0 "$M/dev/stdin"
  ln -s /proc/self/fd/1 "$M/dev/stdout"
  ln -s /proc/self/fd/2 "$M/dev/stderr"
  state "$M" > "$U/before"
  set +e
  unshare --pid --fork --kill-child /bin/sh -c '
    M=$1; FIX=$2; CMD=$3; TRACE=$4
    mount -t proc proc "$M/proc" || exit 97
    mount --bind "$M/proc/sys" "$M/proc/sys" && mount -o remount,bind,ro "$M/proc/sys" || exit 97
    if [ -e "$M/proc/sysrq-trigger" ]; then mount --bind /dev/null "$M/proc/sysrq-trigger"; fi
    # Not exec: this shell stays PID 1, so a command that attaches to PID 1 (`strace -p 1`)
    # does not stop the tracer. strace waits for every process it follows, a background one
    # too: it is killed after 3 s, and the PID namespace ends with this shell.
    timeout -s KILL 3 strace -f -qq -o "$TRACE" \
      -e trace=syslog,adjtimex,clock_adjtime,settimeofday,clock_settime,init_module,finit_module,delete_module,reboot,kexec_load,kexec_file_load,swapon,swapoff,acct,bpf,add_key,keyctl,sethostname,setdomainname,quotactl,iopl,ioperm,mount,umount2,pivot_root,mknod,mknodat,fsopen,fsmount,move_mount,open_tree \
      setpriv --bounding-set=-sys_module,-sys_time,-sys_boot,-syslog,-sys_rawio,-bpf,-perfmon,-mknod,-sys_admin,-sys_pacct,-mac_admin,-mac_override,-audit_control,-wake_alarm,-block_suspend \
      chroot "$M" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME="$FIX/home" LANG=C.UTF-8 TERM=dumb \
        /usr/bin/timeout -s KILL 2 /bin/bash -c "cd \"$FIX\" && . \"$CMD\""
  ' sh "$M" "$FIX" "$CMD" "$U/trace" </dev/null >/dev/null 2>"$U/stderr"
  status=$?
  set -e
  state "$M" > "$U/after"
  echo "== upper"
  # What remains: files, links, devices and whiteouts (a directory only copied up because a
  # temporary file came and went is not a change).
  (cd "$U/upper" && find . -mindepth 1 ! -type d -printf '%y %p\n')
  echo "== state"
  diff "$U/before" "$U/after" | grep '^[<>]' || true
  echo "== trace"
  grep -v -e ' +++ ' -e ' --- ' -e 'resumed>' "$U/trace" 2>/dev/null || true
  echo "== status"
  echo "$status"
  if [ "$status" = 97 ]; then cat "$U/stderr"; fi
  umount -R "$M" 2>/dev/null || umount -l "$M"
  rm -rf "$U"
  echo "== end"
done
