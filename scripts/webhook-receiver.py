#!/usr/bin/env python3
"""A local webhook receiver for the demo: records every POST.

    webhook-receiver.py PORTFILE OUTDIR

Listens on 127.0.0.1 on a free port, writes the port to PORTFILE, and for
each POST writes OUTDIR/NNNN.json (the body as received) and
OUTDIR/NNNN.headers (the X-GC-* headers). Answers 204.
"""
import http.server, os, sys

portfile, outdir = sys.argv[1], sys.argv[2]
os.makedirs(outdir, exist_ok=True)

class Handler(http.server.BaseHTTPRequestHandler):
    count = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Handler.count += 1
        base = os.path.join(outdir, "%04d" % Handler.count)
        with open(base + ".json", "wb") as f:
            f.write(body)
        with open(base + ".headers", "w") as f:
            for k in ("X-GC-Event", "X-GC-Signature", "X-GC-Key"):
                f.write("%s: %s\n" % (k, self.headers.get(k, "")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
