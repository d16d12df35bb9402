#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# servers_compare.py SOCKFAN_JSON PORT [HOLDERS]: one look of `sockfan
# ports --json --port PORT` against the kernel's view of the same port
# through ss (sock_diag), read right after it, in the caller's network
# namespace (run it with ip netns exec).
#
# Prints one line per check, "check|NAME|GOT|WANT", for the shell's
# check(), and "# ..." lines for what is only shown.  The checks:
#   listeners      listening sockets: how many, and their cookies
#   owners         each listener's owner holds it (ss -p lists its pid)
#   established    ESTAB sockets on the port, and CLOSE-WAIT ones
#   tuples         the ESTAB four-tuples
#   held_by        each connection's "held_by" pid holds it (ss -p)
#   accepted_by    where known (null: accepted before sockfan looked):
#                  with HOLDERS=1 the accepting process keeps the socket
#                  (ss -p lists it); with 0 (a master that hands it on,
#                  PostgreSQL's postmaster) it is the listener's owner
# Exit 0.
import ipaddress
import json
import os
import re
import subprocess
import sys


def norm(addr):
    a = ipaddress.ip_address(addr.strip('[]').split('%')[0])
    if a.version == 6 and a.ipv4_mapped:
        a = a.ipv4_mapped
    return str(a)


def split_endpoint(ep):
    host, _, port = ep.rpartition(':')
    if port == '*':
        return None, None
    if host in ('*', '0.0.0.0'):
        host = '0.0.0.0'
    elif host in ('[::]', '::'):
        host = '::'
    return norm(host), int(port)


def ss_view(port):
    out = subprocess.run(['ss', '-Htanpe', 'sport = :%d' % port],
                         capture_output=True, text=True, check=True).stdout
    socks = []
    for line in out.splitlines():
        v = line.split()
        if len(v) < 5:
            continue
        la, lp = split_endpoint(v[3])
        ra, rp = split_endpoint(v[4])
        sk = re.search(r'\bsk:([0-9a-f]+)', line)
        socks.append({
            'state': v[0],
            'local': la, 'local_port': lp, 'remote': ra, 'remote_port': rp,
            'cookie': int(sk.group(1), 16) if sk else None,
            'pids': {int(p) for p in re.findall(r'pid=(\d+)', line)},
        })
    return socks


def emit(name, got, want):
    print('check|%s|%s|%s' % (name, got, want))


def diag(msg):
    print('# ' + msg)


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    holders = len(sys.argv) > 3 and sys.argv[3] == '1'
    with open(path) as f:
        doc = json.loads(f.read().splitlines()[-1])
    # the kernel, right after sockfan's look
    socks = ss_view(port)
    ports = [p for p in doc.get('ports', []) if p['port'] == port]
    sf = ports[0] if ports else {}

    ss_listen = [s for s in socks if s['state'] == 'LISTEN']
    ss_estab = [s for s in socks if s['state'] == 'ESTAB']
    ss_cw = [s for s in socks if s['state'] == 'CLOSE-WAIT']
    states = {}
    for s in socks:
        if s['state'] != 'LISTEN':
            states[s['state']] = states.get(s['state'], 0) + 1
    diag('ss states on port %d: %s' % (port, json.dumps(states, sort_keys=True)))
    diag('sockfan port %d: listeners %s connections %s established %s close_wait %s '
         'accepted %s closed %s peers %s states %s' % (
             port, sf.get('listeners'), sf.get('connections'), sf.get('established'),
             sf.get('close_wait'), sf.get('accepted'), sf.get('closed'), sf.get('peers'),
             json.dumps(sf.get('states', {}), sort_keys=True)))

    lsocks = sf.get('listening_sockets', [])
    emit('listening sockets on port %d: sockfan = ss -ltn' % port,
         sf.get('listeners'), len(ss_listen))
    emit('listener cookies: sockfan = ss -e',
         ' '.join(str(c) for c in sorted(ls['cookie'] for ls in lsocks)) or '-',
         ' '.join(str(c) for c in sorted(s['cookie'] or 0 for s in ss_listen)) or '-')
    by_cookie = {s['cookie']: s for s in ss_listen}
    bad = []
    for ls in lsocks:
        owner = (ls.get('owner') or {}).get('pid')
        held = by_cookie.get(ls['cookie'], {}).get('pids', set())
        diag('listener %s %s: owner %s/%s; ss -p holders %s' % (
            ls['cookie'], ls.get('address'), owner, (ls.get('owner') or {}).get('comm'),
            ','.join(str(p) for p in sorted(held)) or '-'))
        if owner not in held:
            bad.append('%s:%s' % (ls['cookie'], owner))
    emit('every listener owner holds its socket per ss -ltnp',
         ' '.join(bad) or 'all', 'all')

    emit('ESTAB sockets: sockfan = ss', sf.get('established'), len(ss_estab))
    emit('CLOSE-WAIT sockets: sockfan = ss', sf.get('close_wait'), len(ss_cw))

    conns = sf.get('connection_sockets', [])
    mine = sorted('%s:%d %s:%d' % (norm(c['local']), c['local_port'],
                                   norm(c['remote']), c['remote_port'])
                  for c in conns if c.get('state') == 'ESTAB')
    theirs = sorted('%s:%d %s:%d' % (s['local'], s['local_port'], s['remote'],
                                     s['remote_port']) for s in ss_estab)
    only_sf = sorted(set(mine) - set(theirs))
    only_ss = sorted(set(theirs) - set(mine))
    entry = {'%s:%d %s:%d' % (norm(c['local']), c['local_port'], norm(c['remote']),
                              c['remote_port']): c for c in conns}
    for t in only_sf[:5]:
        c = entry.get(t, {})
        diag('only sockfan: %s cookie %s listener %s segs_in %s accepted_by %s' % (
            t, c.get('cookie'), c.get('listener'), c.get('segs_in'),
            json.dumps(c.get('accepted_by'))))
    for t in only_ss[:5]:
        diag('only ss:      ' + t)
    emit('ESTAB four-tuples: sockfan = ss (%d)' % len(theirs),
         '%d only sockfan, %d only ss' % (len(only_sf), len(only_ss)),
         '0 only sockfan, 0 only ss')

    # the process named for each connection against the holders ss finds
    pids = {}
    for s in ss_estab:
        pids['%s:%d %s:%d' % (s['local'], s['local_port'], s['remote'],
                              s['remote_port'])] = s['pids']
    wrong = 0
    shown = 0
    for c in conns:
        if c.get('state') != 'ESTAB':
            continue
        key = '%s:%d %s:%d' % (norm(c['local']), c['local_port'], norm(c['remote']),
                               c['remote_port'])
        by = (c.get('accepted_by') or {}).get('pid')
        if key in pids and by is not None and by not in pids[key]:
            wrong += 1
            if shown < 3:
                shown += 1
                diag('%s accepted_by %s; ss -p holders %s' % (
                    key, by, ','.join(str(p) for p in sorted(pids[key])) or '-'))
    # which listener each connection is put on, per listener; not checked:
    # a connection older than sockfan goes to a member of a reuseport
    # group by guess.  Where each member has a process of its own (2
    # haproxy processes), its holders should hold the connection too.
    # POLLERS="cookie:pid ...": the process polling each listener (nginx's
    # workers all hold every listener, each polls its own)
    pollers = {}
    for pair in os.environ.get('POLLERS', '').split():
        cookie, _, pid = pair.partition(':')
        pollers.setdefault(int(cookie), set()).add(int(pid))
    spread = {}
    agree = 0
    for c in conns:
        spread[c.get('listener')] = spread.get(c.get('listener'), 0) + 1
        key = '%s:%d %s:%d' % (norm(c['local']), c['local_port'], norm(c['remote']),
                               c['remote_port'])
        mine_pids = pollers.get(c.get('listener')) or \
            by_cookie.get(c.get('listener'), {}).get('pids', set())
        if mine_pids & pids.get(key, set()):
            agree += 1
    diag('connections per listener cookie (sockfan): %s; %d of %d held by a %s '
         'of that listener, not checked' % (
             json.dumps({str(k): v for k, v in spread.items()}, sort_keys=True),
             agree, len(conns), 'poller (epoll)' if pollers else 'holder (ss -p)'))
    # who holds each connection now, as ss -p
    unheld = 0
    for c in conns:
        key = '%s:%d %s:%d' % (norm(c['local']), c['local_port'], norm(c['remote']),
                               c['remote_port'])
        held = (c.get('held_by') or {}).get('pid')
        if c.get('state') == 'ESTAB' and key in pids and held not in pids[key]:
            unheld += 1
    emit('held_by of each ESTAB socket holds it per ss -p', unheld, 0)
    known = [c for c in conns if c.get('state') == 'ESTAB' and c.get('accepted_by')]
    diag('%d of %d ESTAB sockets have a known accepting task (the rest were '
         'accepted before sockfan looked)' % (len(known), len(mine)))
    if holders:
        emit('accepted_by, where known, holds the socket per ss -p', wrong, 0)
    else:
        owners = {(ls.get('owner') or {}).get('pid') for ls in lsocks}
        emit('accepted_by, where known, is the listener\'s owner (a master that hands on)',
             sum(1 for c in known if c['accepted_by']['pid'] not in owners), 0)
    return 0


if __name__ == '__main__':
    sys.exit(main())
