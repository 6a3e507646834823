#!/bin/busybox sh
# kvmbox guest /init: loads modules, mounts the host root over 9p, runs the job in a chroot, reports, powers off.
# Its stdout/stderr are the kernel console (ttyS0 -> log file on the host); results go over virtio-serial ports.

/bin/busybox --install -s /bin
export PATH=/bin
HOST=/host
CTL_OPEN=

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# fail MESSAGE: report a box error to the host (ctl port if open, console always) and power off.
fail() {
	echo "kvmbox-init: error: $*"
	dmesg | tail -n 15
	[ -n "$CTL_OPEN" ] && echo "error $*" >&9
	poweroff -f
	exit 1
}

# load_modules: insmod every module listed in /etc/kvmbox/modules ("req PATH" or "opt PATH", dependency order).
# A failing required module is remembered in MODULE_ERROR, with the kernel's last two messages as the reason.
load_modules() {
	while read -r kind path; do
		insmod "$path" && continue
		[ "$kind" = req ] && [ -z "$MODULE_ERROR" ] &&
			MODULE_ERROR="cannot load required module ${path##*/} (kernel: $(dmesg | tail -n 2 |
				sed 's/^\[[^]]*\] //' | tr '\n' ';' | sed 's/;$//; s/;/; /g'))"
	done </etc/kvmbox/modules
}

# port_dev NAME: print the /dev node of the virtio-serial port called NAME, waiting up to ~5 s for it.
port_dev() {
	tries=0
	while [ $tries -lt 100 ]; do
		for f in /sys/class/virtio-ports/*/name; do
			[ -e "$f" ] && [ "$(cat "$f")" = "$1" ] || continue
			dev=${f%/name}
			dev=/dev/${dev##*/}
			[ -c "$dev" ] && echo "$dev" && return 0
		done
		sleep 0.05
		tries=$((tries + 1))
	done
	return 1
}

# boot_arg NAME: print the value of kvmbox.NAME= on the kernel command line.
boot_arg() {
	for arg in $(cat /proc/cmdline); do
		case "$arg" in "kvmbox.$1="*) echo "${arg#kvmbox.$1=}" ;; esac
	done
}

# setup_chroot: mount what programs expect inside the host-root chroot (guest-side mounts only).
setup_chroot() {
	mount -t proc proc $HOST/proc || fail "cannot mount /proc in the chroot"
	mount -t sysfs sysfs $HOST/sys || fail "cannot mount /sys in the chroot"
	mount -t devtmpfs devtmpfs $HOST/dev || fail "cannot mount /dev in the chroot"
	mkdir -p /dev/pts /dev/shm /dev/hugepages
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts $HOST/dev/pts
	mount -t tmpfs -o mode=1777 tmpfs $HOST/dev/shm
	mount -t hugetlbfs hugetlbfs $HOST/dev/hugepages
	ln -sf /proc/self/fd /dev/fd
	ln -sf /proc/self/fd/0 /dev/stdin
	ln -sf /proc/self/fd/1 /dev/stdout
	ln -sf /proc/self/fd/2 /dev/stderr
	mount -t tmpfs -o mode=0755 tmpfs $HOST/run || fail "cannot mount /run in the chroot"
	mkdir -p $HOST/run/kvmbox/tmp $HOST/run/user/0
	chmod 1777 $HOST/run/kvmbox/tmp
	chmod 0700 $HOST/run/user/0
}

# reserve_hugepages N: reserve N 2 MiB huge pages or fail.
reserve_hugepages() {
	[ "${1:-0}" -gt 0 ] || return 0
	echo "$1" >/proc/sys/vm/nr_hugepages
	got=$(cat /proc/sys/vm/nr_hugepages)
	[ "$got" -ge "$1" ] || fail "could reserve only $got of $1 huge pages (raise --mem)"
}

load_modules
OUT_DEV=$(port_dev kvmbox.out) && ERR_DEV=$(port_dev kvmbox.err) && CTL_DEV=$(port_dev kvmbox.ctl) ||
	fail "virtio-serial ports did not appear"
exec 9>"$CTL_DEV"
CTL_OPEN=1
[ -z "$MODULE_ERROR" ] || fail "$MODULE_ERROR"
[ -c /dev/kvm ] || fail "/dev/kvm did not appear in the box"
chmod 0666 /dev/kvm

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap hostroot $HOST ||
	fail "cannot mount the host root over 9p"
JOB=$(boot_arg job)
[ -f "$HOST$JOB/run.sh" ] || fail "job directory '$JOB' not visible in the box"
reserve_hugepages "$(boot_arg hugepages)"
setup_chroot
ip link set lo up

# run.sh (written by kvmbox) cd's to the caller's cwd and execs the command with its environment via env -i.
# The subshell keeps the ports out of this shell: its notes (e.g. "Killed") go to the console, not to CMD's stderr.
echo start >&9
(exec chroot $HOST /bin/sh "$JOB/run.sh" </dev/null >"$OUT_DEV" 2>"$ERR_DEV")
STATUS=$?
sync
echo "status $STATUS" >&9
poweroff -f
