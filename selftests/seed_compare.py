#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# seed_compare.py: sockfan.ko's /proc/net/sockfan/{listeners,conns,ports}
# (listeners, established and distinct peers per port)
# against the kernel's own /proc/net/tcp{,6}, in the caller's network
# namespace, read at one moment (the kernel's files read again after
# sockfan's, until both reads agree).
#
# The kernel's side: listeners are its LISTEN sockets; connections are
# those in ESTABLISHED or a later state before CLOSE whose local port has
# a listener (passive ones); a connection whose inode is 0 is still in
# an accept queue (no file yet), any other one was accepted.  Holders are
# found as ss -p finds them, from /proc/PID/fd.
#
# Prints what differs, one "# " line each, and a last line
#   summary listeners L conns C sockfan_listeners SL sockfan_conns SC
#           accepted A queued Q named N unknown U
# (L, C: the kernel's; accepted, queued: the kernel's word on the
# connections both have; named: sockfan names a pid that holds the
# socket; unknown: sockfan says "0 ?").
# Exit 0 when everything matches, 1 otherwise.
import ipaddress
import os
import sys

LIVE = {'01', '04', '05', '08', '09', '0B'}
LISTEN = '0A'


def addr(hexaddr):
    raw = bytes.fromhex(hexaddr)
    # the kernel prints each 32-bit word in host (little-endian) order
    raw = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(raw))


def kernel_view():
    listeners, conns = {}, {}
    for name, family in (('tcp', 'inet'), ('tcp6', 'inet6')):
        try:
            with open('/proc/net/' + name) as f:
                lines = f.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            v = line.split()
            (la, lp), (ra, rp) = (x.split(':') for x in v[1:3])
            key = (family, addr(la), int(lp, 16))
            if v[3] == LISTEN:
                listeners[key] = int(v[9])
            elif v[3] in LIVE:
                conns[key + (addr(ra), int(rp, 16))] = int(v[9])
    ports = {k[2] for k in listeners}
    conns = {k: ino for k, ino in conns.items() if k[2] in ports}
    return listeners, conns


def table(path):
    with open(path) as f:
        lines = f.read().splitlines()
    return lines[0].split(), [line.split() for line in lines[1:]]


def norm(a):
    return str(ipaddress.ip_address(a))


def unmapped(a):
    ip = ipaddress.ip_address(a)
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


def holders():
    """socket inode -> pids holding it"""
    held = {}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            fds = os.listdir('/proc/%s/fd' % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink('/proc/%s/fd/%s' % (pid, fd))
            except OSError:
                continue
            if link.startswith('socket:['):
                held.setdefault(int(link[8:-1]), set()).add(int(pid))
    return held


def sockfan_view():
    hdr, ls = table('/proc/net/sockfan/listeners')
    global LISTENER_PID
    LISTENER_PID = hdr.index('pid')
    _, cs = table('/proc/net/sockfan/conns')
    _, ps = table('/proc/net/sockfan/ports')
    listeners = {(v[1], norm(v[2]), int(v[3])): v for v in ls}
    conns = {(v[1], norm(v[2]), int(v[3]), norm(v[4]), int(v[5])): v for v in cs}
    return listeners, conns, ps


def main():
    for _ in range(10):
        k_listeners, k_conns = kernel_view()
        s_listeners, s_conns, s_ports = sockfan_view()
        if kernel_view() == (k_listeners, k_conns):
            break
    held = holders()
    bad = []
    for k in sorted(set(k_listeners) ^ set(s_listeners)):
        bad.append('listener %s %s:%d only in %s' %
                   (k + ('/proc/net/tcp' if k in k_listeners else 'sockfan',)))
    for k in sorted(set(k_conns) ^ set(s_conns)):
        bad.append('connection %s %s:%d %s:%d only in %s' %
                   (k + ('/proc/net/tcp' if k in k_conns else 'sockfan',)))
    cookies = {int(v[0]): k for k, v in s_listeners.items()}
    accepted = queued = named = unknown = 0
    for k in sorted(set(k_conns) & set(s_conns)):
        v = s_conns[k]
        pid, comm, listener = int(v[7]), v[8], int(v[6])
        is_accepted = k_conns[k] != 0
        accepted += is_accepted
        queued += not is_accepted
        says = 'queued' if (pid, comm) == (0, '-') else 'accepted'
        if says != ('accepted' if is_accepted else 'queued'):
            bad.append('connection %s %s:%d %s:%d reads %s, the kernel has it %s (inode %d)' %
                       (k + (says, 'accepted' if is_accepted else 'queued', k_conns[k])))
        if pid:
            named += 1
            if pid not in held.get(k_conns[k], set()):
                bad.append('connection %s %s:%d %s:%d names pid %d, held by %s' %
                           (k + (pid, sorted(held.get(k_conns[k], set())) or 'none')))
        elif comm == '?':
            unknown += 1
        lk = cookies.get(listener)
        if listener and (not lk or lk[2] != k[2]):
            bad.append('connection %s %s:%d %s:%d names listener %d, not one of its port' %
                       (k + (listener,)))
    for k in sorted(set(k_listeners) & set(s_listeners)):
        pid = int(s_listeners[k][LISTENER_PID])
        if pid not in held.get(k_listeners[k], set()):
            bad.append('listener %s %s:%d names pid %d, held by %s' %
                       (k + (pid, sorted(held.get(k_listeners[k], set())) or 'none')))
    # ports: live counts and distinct peers per port (an IPv4 peer of a
    # dual-stack socket is the same address), and an owner holding a
    # listener of it
    want, peers = {}, {}
    for k in k_listeners:
        want.setdefault(k[2], [0, 0, 0])[0] += 1
    for k in k_conns:
        want[k[2]][1] += 1
        peers.setdefault(k[2], set()).add(unmapped(k[3]))
    for port, p in peers.items():
        want[port][2] = len(p)
    got = {int(v[0]): [int(v[1]), int(v[2]), int(v[5])] for v in s_ports
           if v[1] != '0' or v[2] != '0'}
    for port in sorted(set(want) | set(got)):
        if want.get(port) != got.get(port):
            bad.append('port %d: sockfan has listeners/established/peers %s, /proc/net/tcp %s' %
                       (port, got.get(port), want.get(port)))
    for v in s_ports:
        port, owner = int(v[0]), int(v[10])
        inodes = [ino for k, ino in k_listeners.items() if k[2] == port]
        if inodes and not any(owner in held.get(ino, set()) for ino in inodes):
            bad.append('port %d: owner pid %d holds none of its listeners' % (port, owner))
    for line in bad:
        print('# ' + line)
    print('summary listeners %d conns %d sockfan_listeners %d sockfan_conns %d '
          'accepted %d queued %d named %d unknown %d' %
          (len(k_listeners), len(k_conns), len(s_listeners), len(s_conns),
           accepted, queued, named, unknown))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
