#!/bin/bash
# PID 1 of one lab node's PID namespace (started by genweb.lab inside the node's network
# namespace under `unshare --mount --uts --ipc --pid --fork --mount-proc`).
# It gives the node its own view of the filesystem following the plan in "$1/mounts"
# (written by genweb/lab/files.py; /run comes last because it hides the lab's state dir),
# creates the runtime directories systemd would, then reaps re-parented orphans forever.
# Killing this process (SIGKILL from the host) makes the kernel kill the whole node.
set -euo pipefail
dir=$1
hostname "$(cat "$dir/hostname")"
umount -l /sys && mount -t sysfs sysfs /sys      # /sys/class/net of this node's netns
while read -r kind a b c; do
  case $kind in
    overlay) mount -t overlay overlay -o "lowerdir=$a,upperdir=$b,workdir=$c" "$a" ;;
    bind)    mount --bind "$a" "$b" ;;
    robind)  mount --bind "$a" "$b"; mount -o remount,bind,ro "$b" ;;
    tmpfs)   mount -t tmpfs -o "$b" tmpfs "$a" ;;
    ''|'#'*) ;;
    *) echo "node-init: unknown mount kind: $kind" >&2; exit 1 ;;
  esac
done < "$dir/mounts"

# What systemd's RuntimeDirectory= and tmpfiles.d would create at boot.
install -d -m 0755 /run/sshd /run/lock
getent group haclient >/dev/null && install -d -m 0750 -o hacluster -g haclient /run/crm
if command -v systemd-tmpfiles >/dev/null; then
  systemd-tmpfiles --create --prefix=/run >/dev/null 2>&1 || true
fi
touch /run/genweb-lab-ready

trap '' TERM INT HUP
while :; do sleep 3600 & wait $! || true; done
