#!/usr/bin/env python3
"""Helpers of the integration tests, Python standard library only.

    gcint.py call --url URL --ca CA --cert CRT --key KEY [--data FILE] [--out FILE] METHOD PATH
        One HTTPS call over TLS 1.3 with a client certificate (ssl module);
        prints the status, writes the body to --out.  Exits 3 when the
        session is not TLS 1.3, 4 when the connection fails.
    gcint.py get FILE EXPR
        Evaluate a Python expression over the JSON document d of FILE; print
        a string as it is, anything else as JSON.  Exit 1 when it fails.
    gcint.py audit-pages OUT PAGE...
        Join pages of GET /v1/audit into OUT ({"records": [...]}); print the
        last seq and the number of records on the last page.
    gcint.py dump DB
        Every table but audit and notify_cursors, rows sorted, one JSON line
        each, with the schema: to show that nothing changed.
    gcint.py audit-verify DB [--alg sm3]
        Recompute the audit chain: each record's hash is ALG of the RFC 8785
        bytes of {seq,time,actor,role,action,object,approval,outcome,rule,
        detail,prev}, prev the hash before it (ALG:0{64} for the first).
    gcint.py integrity DB
        PRAGMA integrity_check.
    gcint.py hook --dir DIR [--port N]
        A webhook receiver on 127.0.0.1: writes DIR/port once listening; each
        POST becomes DIR/events/NNNNNN.json ({"status", "headers", "body_b64"})
        and DIR/events/NNNNNN.body (the exact bytes).  It answers what
        DIR/mode says: a status ("200", "503"), or "hang" (no answer until
        the mode changes, then
        the connection is closed unanswered).
    gcint.py hook-check --db DB --dir DIR [--pub PEM] [--key-fp FP]
        Compare what the receiver got with the audit chain: every
        request.accepted / request.refused record gives its events, all
        acknowledged with 2xx, in audit order (duplicates allowed), ids,
        types and bodies consistent; with --pub, every signature verifies
        (openssl, SM2 with SM3 and the GM/T 0009 id, or Ed25519).
"""
import json, os, subprocess, sys, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DISTID = "1234567812345678"


def jcs(v):
    """RFC 8785, from sign-openssl.py: one implementation for both."""
    global _jcs
    if _jcs is None:
        _jcs = _load_signer().jcs
    return _jcs(v)


_jcs = None


def _load_signer():
    import importlib.util
    sys.dont_write_bytecode = True      # nothing written into the source tree
    spec = importlib.util.spec_from_file_location("sign_openssl", os.path.join(HERE, "sign-openssl.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod



def die(msg, code=1):
    sys.stderr.write("gcint: " + msg + "\n")
    sys.exit(code)


# ---- HTTPS client ----

def cmd_call(a):
    import http.client, ssl
    u = urllib.parse.urlsplit(a.url)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    body = open(a.data, "rb").read() if a.data else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    path = urllib.parse.quote(a.path, safe="/?=&%:")
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=a.timeout)
    try:
        conn.request(a.method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        version = conn.sock.version() if conn.sock else None
    except (OSError, http.client.HTTPException) as e:
        print("000")
        die("%s %s: %s" % (a.method, a.path, e), 4)
    finally:
        conn.close()
    if a.out:
        with open(a.out, "wb") as f:
            f.write(data)
    print(resp.status)
    if version is not None and version != "TLSv1.3":
        die("the session was %s, not TLSv1.3" % version, 3)


# ---- JSON ----

def cmd_get(a):
    try:
        d = json.load(open(a.file, encoding="utf-8"))
        v = eval(a.expr, {"d": d, "len": len, "sorted": sorted, "set": set})
    except Exception as e:  # the caller decides what a failure means
        die("%s: %s: %s" % (a.file, a.expr, e))
    print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True))


def cmd_audit_pages(a):
    recs = []
    for page in a.pages:
        recs += json.load(open(page, encoding="utf-8"))["records"]
    json.dump({"records": recs}, open(a.out, "w", encoding="utf-8"), ensure_ascii=False)
    last = json.load(open(a.pages[-1], encoding="utf-8"))["records"]
    print(recs[-1]["seq"] if recs else 0, len(last))


# ---- the store ----

def connect(db):
    import sqlite3
    return sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(db)), uri=True, timeout=30)


def cmd_dump(a):
    con = connect(a.db)
    print("user_version", con.execute("PRAGMA user_version").fetchone()[0])
    tables = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for t in tables:
        sql = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (t,)).fetchone()[0]
        if t in ("audit", "notify_cursors", "checkpoints"):
            print("== %s (rows not compared)" % t)
            continue
        print("== %s: %s" % (t, sql))
        rows = [json.dumps(list(r), ensure_ascii=False) for r in con.execute('SELECT * FROM "%s"' % t)]
        for r in sorted(rows):
            print(r)
    con.close()


def digest(alg, data):
    import hashlib
    if alg in hashlib.algorithms_available:
        return hashlib.new(alg, data).hexdigest()
    out = subprocess.run(["openssl", "dgst", "-" + alg, "-r"], input=data, capture_output=True, check=True).stdout
    return out.split()[0].decode()


def cmd_audit_verify(a):
    con = connect(a.db)
    rows = con.execute("SELECT seq, time, actor, role, action, object, approval, outcome, rule, detail, prev, hash "
                       "FROM audit ORDER BY seq").fetchall()
    con.close()
    prev = "%s:%s" % (a.alg, "0" * 64)
    for n, (seq, t, actor, role, action, obj, approval, outcome, rule, detail, rprev, rhash) in enumerate(rows, 1):
        if seq != n:
            die("audit record %d: seq %d, expected %d (a gap)" % (n, seq, n))
        if not isinstance(t, int):
            die("audit record %d: time %r is not an integer" % (seq, t))
        if rprev != prev:
            die("audit record %d: prev %s, expected %s" % (seq, rprev, prev))
        rec = {"seq": seq, "time": t, "actor": actor, "role": role, "action": action, "object": obj,
               "approval": approval, "outcome": outcome, "rule": rule, "detail": json.loads(detail), "prev": rprev}
        want = "%s:%s" % (a.alg, digest(a.alg, jcs(rec).encode("utf-8")))
        if rhash != want:
            die("audit record %d (%s): hash %s, recomputed %s" % (seq, action, rhash, want))
        prev = rhash
    if not rows:
        die("the audit chain is empty")
    print("%d records, head %s" % (len(rows), prev))


def cmd_integrity(a):
    con = connect(a.db)
    r = con.execute("PRAGMA integrity_check").fetchall()
    con.close()
    print("; ".join(x[0] for x in r))
    if r != [("ok",)]:
        sys.exit(1)


# ---- webhook receiver ----

def cmd_hook(a):
    import http.server, threading, time
    events = os.path.join(a.dir, "events")
    os.makedirs(events, exist_ok=True)
    mode_file = os.path.join(a.dir, "mode")
    lock = threading.Lock()
    counter = [len([f for f in os.listdir(events) if f.endswith(".json")])]

    def mode():
        try:
            return open(mode_file).read().strip() or "200"
        except OSError:
            return "200"

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            sys.stderr.write("hook: " + (fmt % args) + "\n")

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            m = mode()
            status = int(m) if m.isdigit() else 0       # 0: never answered
            with lock:
                counter[0] += 1
                base = os.path.join(events, "%06d" % counter[0])
                with open(base + ".body", "wb") as f:
                    f.write(body)
                rec = {"status": status, "path": self.path, "headers": {k: v for k, v in self.headers.items()}}
                with open(base + ".tmp", "w", encoding="utf-8") as f:
                    json.dump(rec, f, ensure_ascii=False)
                os.rename(base + ".tmp", base + ".json")
            if status == 0:
                deadline = time.monotonic() + 120
                while mode() == "hang" and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.close_connection = True
                return
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    port_file = os.path.join(a.dir, "port")
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


def openssl_verify(pub, body, sig):
    import tempfile
    with tempfile.NamedTemporaryFile() as m, tempfile.NamedTemporaryFile() as s:
        m.write(body); m.flush()
        s.write(sig); s.flush()
        text = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub, "-noout", "-text"],
                              capture_output=True, text=True, check=True).stdout
        cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", m.name, "-sigfile", s.name]
        if "ED25519" not in text.upper():
            cmd += ["-digest", "sm3", "-pkeyopt", "distid:" + DISTID]
        return subprocess.run(cmd, capture_output=True).returncode == 0


def cmd_hook_check(a):
    import base64
    con = connect(a.db)
    rows = con.execute("SELECT seq, action FROM audit WHERE action IN ('request.accepted', 'request.refused') "
                       "AND seq > ? ORDER BY seq", (a.after,)).fetchall()
    con.close()
    expected = []
    types = {}
    for seq, action in rows:
        expected.append(str(seq))
        types[str(seq)] = action
        if action == "request.accepted":
            expected.append("%d.stage" % seq)
            types["%d.stage" % seq] = "stage.reached"
    events = os.path.join(a.dir, "events")
    files = sorted(f for f in os.listdir(events) if f.endswith(".json"))
    problems = []
    acked, order, verified, seen_bodies = [], [], 0, {}
    for f in files:
        rec = json.load(open(os.path.join(events, f), encoding="utf-8"))
        body = open(os.path.join(events, f[:-5] + ".body"), "rb").read()
        h = {k.lower(): v for k, v in rec["headers"].items()}
        eid = h.get("x-gc-event", "")
        try:
            ev = json.loads(body)
        except ValueError:
            problems.append("%s: the body is not JSON" % f)
            continue
        if ev.get("id") != eid:
            problems.append("%s: X-GC-Event %r but the body's id is %r" % (f, eid, ev.get("id")))
        if eid not in types:
            problems.append("%s: event %r matches no request.accepted/request.refused audit record" % (f, eid))
            continue
        if ev.get("type") != types[eid]:
            problems.append("%s: event %s has type %r, expected %r" % (f, eid, ev.get("type"), types[eid]))
        if ev.get("audit_seq") != int(eid.split(".")[0]):
            problems.append("%s: event %s has audit_seq %r" % (f, eid, ev.get("audit_seq")))
        if not h.get("content-type", "").startswith("application/json"):
            problems.append("%s: Content-Type %r" % (f, h.get("content-type")))
        if eid in seen_bodies and seen_bodies[eid] != body:
            problems.append("%s: event %s delivered again with other bytes" % (f, eid))
        seen_bodies[eid] = body
        if a.key_fp and h.get("x-gc-key") != a.key_fp:
            problems.append("%s: X-GC-Key %r, expected %r" % (f, h.get("x-gc-key"), a.key_fp))
        if a.pub:
            alg, _, b64 = h.get("x-gc-signature", "").partition(":")
            try:
                sig = base64.b64decode(b64, validate=True)
            except ValueError:
                sig = b""
            if alg != a.alg or not sig or not openssl_verify(a.pub, body, sig):
                problems.append("%s: X-GC-Signature %r does not verify over the body" % (f, h.get("x-gc-signature")))
            else:
                verified += 1
        order.append(int(eid.split(".")[0]))
        if 200 <= rec["status"] <= 299:
            acked.append(eid)
    for i in range(1, len(order)):
        if order[i] < order[i - 1]:
            problems.append("out of order: delivery %d is audit record %d after %d" % (i + 1, order[i], order[i - 1]))
    missing = [e for e in expected if e not in acked]
    if missing:
        problems.append("never acknowledged: %s" % ", ".join(missing))
    # The acknowledged events, first deliveries only, are the expected list.
    firsts = []
    for e in acked:
        if e not in firsts:
            firsts.append(e)
    if not missing and firsts != expected:
        problems.append("acknowledged in the order %s, expected %s" % (firsts, expected))
    if not expected:
        problems.append("no request.accepted or request.refused audit record: nothing to compare")
    for p in problems[:30]:
        sys.stderr.write("  " + p + "\n")
    print("%d events expected, %d deliveries, %d acknowledged, %d duplicates, %d signatures verified"
          % (len(expected), len(files), len(acked), len(acked) - len(set(acked)), verified))
    sys.exit(1 if problems else 0)


def main():
    import argparse
    p = argparse.ArgumentParser(description="integration test helpers")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("call")
    for k in ("--url", "--ca", "--cert", "--key"):
        c.add_argument(k, required=True)
    c.add_argument("--data")
    c.add_argument("--out")
    c.add_argument("--timeout", type=float, default=30)
    c.add_argument("method")
    c.add_argument("path")
    c.set_defaults(fn=cmd_call)
    g = sub.add_parser("get")
    g.add_argument("file")
    g.add_argument("expr")
    g.set_defaults(fn=cmd_get)
    ap = sub.add_parser("audit-pages")
    ap.add_argument("out")
    ap.add_argument("pages", nargs="+")
    ap.set_defaults(fn=cmd_audit_pages)
    d = sub.add_parser("dump")
    d.add_argument("db")
    d.set_defaults(fn=cmd_dump)
    v = sub.add_parser("audit-verify")
    v.add_argument("db")
    v.add_argument("--alg", default="sm3")
    v.set_defaults(fn=cmd_audit_verify)
    i = sub.add_parser("integrity")
    i.add_argument("db")
    i.set_defaults(fn=cmd_integrity)
    h = sub.add_parser("hook")
    h.add_argument("--dir", required=True)
    h.add_argument("--port", type=int, default=0)
    h.set_defaults(fn=cmd_hook)
    k = sub.add_parser("hook-check")
    k.add_argument("--db", required=True)
    k.add_argument("--dir", required=True)
    k.add_argument("--after", type=int, default=0)
    k.add_argument("--pub")
    k.add_argument("--alg", default="sm2")
    k.add_argument("--key-fp")
    k.set_defaults(fn=cmd_hook_check)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
