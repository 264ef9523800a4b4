#!/usr/bin/env python3
"""Sign a request as an approval system, independently of govcloud's C code:
JCS (RFC 8785) written here in Python, the signature made by the openssl
command (SM2 with SM3 and the GM/T 0009 id, or Ed25519).

    sign-openssl.py REQUEST.json KEY.pem [OPTION]... > signed.json

Options, applied in order before signing:
    --set=PATH=VALUE       set a string; PATH is dotted, a number indexes a
                           list (vms.0.role).  For approval.time, VALUE may be
                           "now", "now+N" or "now-N" with N in s, m, h or d
                           (a time in +08:00, whole seconds)
    --set-json=PATH=JSON   set any JSON value (vms.0.vcpus=0)
    --unset=PATH           remove a member
The output is the document with approval.signature (base64) filled in.
"""
import base64, datetime, json, re, subprocess, sys, tempfile

DISTID = "1234567812345678"


def jcs(v):
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, int): return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 2**53: return str(int(v))
        raise SystemExit("non-integer numbers are not used in requests")
    if isinstance(v, str): return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list): return "[" + ",".join(jcs(x) for x in v) + "]"
    keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v[k]) for k in keys) + "}"


def time_value(val):
    m = re.fullmatch(r"now(?:([+-])([0-9]+)([smhd]))?", val)
    if not m:
        return val
    t = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).replace(microsecond=0)
    if m.group(1):
        n = int(m.group(2)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(3)]
        t += datetime.timedelta(seconds=n if m.group(1) == "+" else -n)
    return t.isoformat()


def walk(doc, path):
    parts = path.split(".")
    obj = doc
    for p in parts[:-1]:
        obj = obj[int(p)] if isinstance(obj, list) else obj[p]
    last = parts[-1]
    return obj, int(last) if isinstance(obj, list) else last


def sign_bytes(data, key):
    with tempfile.NamedTemporaryFile() as m, tempfile.NamedTemporaryFile() as s:
        m.write(data); m.flush()
        text = subprocess.run(["openssl", "pkey", "-in", key, "-noout", "-text"],
                              capture_output=True, text=True, check=True).stdout
        cmd = ["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", m.name, "-out", s.name]
        if "ED25519" not in text.upper():
            cmd += ["-digest", "sm3", "-pkeyopt", "distid:" + DISTID]
        subprocess.run(cmd, check=True)
        return open(s.name, "rb").read()


def main():
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        sys.exit(2)
    path, key = sys.argv[1], sys.argv[2]
    doc = json.load(open(path, encoding="utf-8"))
    for arg in sys.argv[3:]:
        if arg.startswith("--set="):
            k, val = arg[len("--set="):].split("=", 1)
            obj, last = walk(doc, k)
            obj[last] = time_value(val) if k == "approval.time" else val
        elif arg.startswith("--set-json="):
            k, val = arg[len("--set-json="):].split("=", 1)
            obj, last = walk(doc, k)
            obj[last] = json.loads(val)
        elif arg.startswith("--unset="):
            obj, last = walk(doc, arg[len("--unset="):])
            del obj[last]
        else:
            raise SystemExit("sign-openssl.py: unknown option " + arg)
    doc["approval"].pop("signature", None)
    sig = sign_bytes(jcs(doc).encode("utf-8"), key)
    doc["approval"]["signature"] = base64.b64encode(sig).decode()
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
