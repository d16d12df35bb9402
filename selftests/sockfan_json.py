#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Answers from `sockfan ports --json` output for the selftests.

sockfan_json.py FILE QUERY ARGS...  FILE holds one JSON document a line
(one per look); the first is read, the last with COL_LAST=1 in the
environment.  Values print as the text views print them: "-" for what
the source cannot count (null), PID/COMM for a task, ADDR:PORT or
[ADDR]:PORT for an endpoint, so that they compare with ss.

  row PORT NAME...        the named columns of PORT's row: LISTEN ESTAB
                          CLOSE-WAIT OTHER ACCEPTED CLOSED PEERS REFUSED
                          OWNER, and LOOKUP_HITS (listener lookups counted
                          per port by sk_lookup) ("?" for another name);
                          nothing if no row
  listener SEL KEY        KEY (backlog, qlen, sk_drops, overflows, accepted,
                          hits, owner, cookie) of each listener SEL names
                          (ADDR:PORT, a cookie, or all), one a line
  conns accepted|queued [STATE]
                          how many connection sockets (of STATE) are so
  tasks accepted|held     "LOCAL REMOTE TASK" of each ESTAB connection:
                          the task that accepted it, or that holds it
                          ("-": none known; "?": accepted unseen)
  tuples                  "LOCAL REMOTE" of each ESTAB connection
  segs_in                 "REMOTE SEGS_IN" of each ESTAB connection
  cgroup PORT             "PATH RUNTIME CONTAINER POD" of the cgroup of
                          PORT's owner ("-" for each not known)
  conn_cgroups            the cgroup path of each ESTAB connection ("-")
  ports                   the ports that have a row, one a line
  hists PORT              the counts of PORT's handshake, accept-wait and
                          lifetime histograms the kernel keeps ("-": none)
  kernel_hits PORT        listener lookup hits the programs counted for
                          PORT (fexit/kretprobe), "-" when not kept
  lost                    records the ring buffer lost (bpf)
  strays                  segments that found no socket and were no SYN
  netns FIELD...          fields of the (first) namespace's entry:
                          listen_overflows, listen_drops, defer_accept_drops
A document that does not parse is an error (exit 1), never an answer.
"""
import json
import os
import sys

ROW = {
    "LISTEN": lambda r: r["listeners"],
    "ESTAB": lambda r: r["established"],
    "CLOSE-WAIT": lambda r: r["close_wait"],
    "OTHER": lambda r: r["connections"] - r["established"] - r["close_wait"],
    "ACCEPTED": lambda r: r["accepted"],
    "CLOSED": lambda r: r["closed"],
    "PEERS": lambda r: r["peers"],
    "REFUSED": lambda r: r["refused"],
    "LOOKUP_HITS": lambda r: r["lookup_hits"],
    "OWNER": lambda r: task(r["owner"]),
}


def text(v):
    return "-" if v is None else str(v)


def task(t):
    """fmt_thread(): PID/COMM, PID/TID/COMM for another thread, - for none"""
    if not t:
        return "-"
    comm = t["comm"] or "?"
    tid = t.get("tid", 0)
    if tid and tid != t["pid"]:
        return "%d/%d/%s" % (t["pid"], tid, comm)
    return "%d/%s" % (t["pid"], comm)


def endpoint(addr, port):
    return ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)


def document(path):
    with open(path) as f:
        lines = [l for l in f if l.strip()]
    if not lines:
        return {"ports": []}
    return json.loads(lines[-1] if os.environ.get("COL_LAST") == "1" else lines[0])


def sockets(doc, key):
    for r in doc["ports"]:
        yield from r.get(key, [])


def acceptor(c):
    if not c["accepted"]:
        return "-"
    return task(c["accepted_by"]) if c["accepted_by"] else "?"


def cgroup(c):
    """PATH RUNTIME CONTAINER POD, "-" for each not known"""
    if not c:
        return "- - - -"
    return " ".join(text(c[k]) for k in ("path", "runtime", "container", "pod"))


def main(path, query, *args):
    doc = document(path)
    if query == "row":
        for r in doc["ports"]:
            if r["port"] == int(args[0]):
                print(" ".join(text(ROW[n](r)) if n in ROW else "?" for n in args[1:]))
                break
    elif query == "listener":
        sel, key = args
        for l in sockets(doc, "listening_sockets"):
            if sel in ("all", str(l["cookie"]), endpoint(l["address"], l["port"])):
                print(task(l[key]) if key == "owner" else
                      cgroup(l[key]).split()[0] if key == "cgroup" else text(l.get(key, "")))
    elif query == "cgroup":
        for r in doc["ports"]:
            if r["port"] == int(args[0]):
                print(cgroup(r["owner_cgroup"]))
    elif query == "conn_cgroups":
        for c in sockets(doc, "connection_sockets"):
            if c["state"] == "ESTAB":
                print(cgroup(c["cgroup"]).split()[0])
    elif query == "hists":
        for r in doc["ports"]:
            if r["port"] == int(args[0]):
                h = r.get("kernel", {}).get("histograms")
                print(" ".join(str(h[k]["count"]) if h else "-"
                               for k in ("handshake", "accept_wait", "lifetime")))
    elif query == "kernel_hits":
        for r in doc["ports"]:
            if r["port"] == int(args[0]):
                print(text(r.get("kernel", {}).get("listener_hits")))
    elif query == "ports":
        for r in doc["ports"]:
            print(r["port"])
    elif query == "conns":
        want = args[0] == "accepted"
        print(sum(1 for c in sockets(doc, "connection_sockets")
                  if c["accepted"] == want and (len(args) < 2 or c["state"] == args[1])))
    elif query in ("tasks", "tuples"):
        for c in sockets(doc, "connection_sockets"):
            if c["state"] != "ESTAB":
                continue
            t = [endpoint(c["local"], c["local_port"]), endpoint(c["remote"], c["remote_port"])]
            if query == "tasks":
                t.append(acceptor(c) if args[0] == "accepted" else task(c["held_by"]))
            print(" ".join(t))
    elif query == "segs_in":
        for c in sockets(doc, "connection_sockets"):
            if c["state"] == "ESTAB":
                print(endpoint(c["remote"], c["remote_port"]), c["segs_in"])
    elif query in ("lost", "strays"):
        print(text(doc.get(query)))
    elif query == "netns":
        for n in doc["netns"][:1]:
            print(" ".join(text(n[f]) for f in args))
    else:
        sys.exit("sockfan_json.py: unknown query '%s'" % query)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    try:
        main(*sys.argv[1:])
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit("sockfan_json.py %s: %s" % (" ".join(sys.argv[1:]), e))
