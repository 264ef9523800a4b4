#!/usr/bin/env python3
"""Sign a request as an approval system, independently of govcloud's C code:
JCS (RFC 8785) written here in Python, the signature made by the openssl
command (SM2 with SM3 and the GM/T 0009 id, or Ed25519).

    sign-openssl.py REQUEST.json KEY.pem [--set approval.time=now] > signed.json
"""
import base64, datetime, json, subprocess, sys, tempfile

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

def main():
    path, key = sys.argv[1], sys.argv[2]
    doc = json.load(open(path, encoding="utf-8"))
    for arg in sys.argv[3:]:
        if arg.startswith("--set="):
            k, val = arg[6:].split("=", 1)
            if val == "now":
                val = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).replace(microsecond=0).isoformat()
            obj = doc
            parts = k.split(".")
            for p in parts[:-1]:
                obj = obj[p]
            obj[parts[-1]] = val
    doc["approval"].pop("signature", None)
    data = jcs(doc).encode("utf-8")
    with tempfile.NamedTemporaryFile() as m, tempfile.NamedTemporaryFile() as s:
        m.write(data); m.flush()
        text = subprocess.run(["openssl", "pkey", "-in", key, "-noout", "-text"],
                              capture_output=True, text=True, check=True).stdout
        cmd = ["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", m.name, "-out", s.name]
        if "ED25519" not in text.upper():
            cmd += ["-digest", "sm3", "-pkeyopt", "distid:1234567812345678"]
        subprocess.run(cmd, check=True)
        sig = open(s.name, "rb").read()
    doc["approval"]["signature"] = base64.b64encode(sig).decode()
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")

if __name__ == "__main__":
    main()
