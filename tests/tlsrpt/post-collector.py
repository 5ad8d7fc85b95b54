#!/usr/bin/env python3
"""A TLSRPT HTTPS collector for tests/tlsrpt/test-report.sh (RFC 8460 5.4).

    post-collector.py IP PORT CERT KEY DIR STATUS[,STATUS...]

Answers the Nth POST with the Nth status (the last one repeats), saves its
body as DIR/N.body and appends "N STATUS PATH CONTENT-TYPE LENGTH" to
DIR/log. Writes DIR/ready once listening. Runs until killed.
"""
import http.server
import os
import ssl
import sys


def main():
    ip, port, cert, key, out, statuses = sys.argv[1:7]
    statuses = [int(s) for s in statuses.split(",")]
    count = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = count[0]
            count[0] += 1
            status = statuses[min(n, len(statuses) - 1)]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with open(os.path.join(out, "%d.body" % (n + 1)), "wb") as f:
                f.write(body)
            with open(os.path.join(out, "log"), "a") as f:
                f.write("%d %d %s %s %d\n" % (n + 1, status, self.path,
                                              self.headers.get("Content-Type", "-"), len(body)))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer((ip, int(port)), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    open(os.path.join(out, "ready"), "w").close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
