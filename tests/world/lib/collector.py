#!/usr/bin/python3
"""HTTPS collector of TLSRPT reports for the test world (stdlib only).

Usage: collector.py IP PORT [DIR]   (DIR: WORLD_DIR; else from the environment)

Serves https://collector.test/ with a certificate from the world CA.  Every
request is kept: $WORLD_DIR/collector/posts/<NNNNNN>.head (request line and
headers, as received) and .body (the body, de-chunked), and one line in
$WORLD_DIR/collector/requests.log:
    <NNNNNN> <unix time> <method> <path> <status> <body bytes>
The answer is 200 to a POST, 405 to anything else, unless
$WORLD_DIR/collector/fail503 holds a number N > 0: then the request gets
503 and N is decreased (world-ctl collector-fail N).
"""
import os
import socketserver
import ssl
import sys
import threading
import time

WORLD = sys.argv[3] if len(sys.argv) > 3 else os.environ["WORLD_DIR"]
D = os.path.join(WORLD, "collector")
POSTS = os.path.join(D, "posts")
FAIL = os.path.join(D, "fail503")
REQLOG = os.path.join(D, "requests.log")
MAX_BODY = 10 * 1024 * 1024
lock = threading.Lock()   # the request counter, fail503 and the log


def take_status(method):
    """The status for this request; consumes one of the 503s asked for."""
    try:
        n = int(open(FAIL).read().strip() or 0)
    except (OSError, ValueError):
        n = 0
    if n > 0:
        with open(FAIL + ".new", "w") as f:
            f.write("%d\n" % (n - 1))
        os.replace(FAIL + ".new", FAIL)
        return 503
    return 200 if method == "POST" else 405


def next_number():
    n = len([f for f in os.listdir(POSTS) if f.endswith(".head")]) + 1
    return "%06d" % n


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(30)
        try:
            tls = CTX.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            print("handshake from %s failed: %s" % (self.client_address[0], e), flush=True)
            return
        try:
            self.serve(tls)
        except (ssl.SSLError, OSError, ValueError) as e:
            print("connection ended: %s" % e, flush=True)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    @staticmethod
    def read_body(tls, rest, headers):
        """The body after the header block (Content-Length or chunked)."""
        def more(buf):
            data = tls.recv(65536)
            if not data:
                raise ValueError("connection closed in the body")
            if len(buf) + len(data) > MAX_BODY + 65536:
                raise ValueError("body too large")
            return buf + data
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body, buf = b"", rest
            while True:
                while b"\r\n" not in buf:
                    buf = more(buf)
                line, buf = buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                while len(buf) < size + 2:
                    buf = more(buf)
                body, buf = body + buf[:size], buf[size + 2:]
                if size == 0:
                    return body
        n = int(headers.get("content-length", "0"))
        if n > MAX_BODY:
            raise ValueError("body too large")
        buf = rest
        while len(buf) < n:
            buf = more(buf)
        return buf[:n]

    def serve(self, tls):
        req = b""
        while b"\r\n\r\n" not in req:
            data = tls.recv(4096)
            if not data or len(req) > 65536:
                return
            req += data
        head, rest = req.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        method, path = (parts + ["-", "-"])[:2]
        headers = {}
        for h in lines[1:]:
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("expect", "").lower() == "100-continue":
            tls.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self.read_body(tls, rest, headers)
        with lock:
            status = take_status(method)
            num = next_number()
            with open(os.path.join(POSTS, num + ".body"), "wb") as f:
                f.write(body)
            with open(os.path.join(POSTS, num + ".head"), "wb") as f:
                f.write(head + b"\r\n")
            with open(REQLOG, "a") as f:
                f.write("%s %d %s %s %d %d\n" % (num, time.time(), method, path, status, len(body)))
        reason = {200: "OK", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
        text = b"%d %s\n" % (status, reason.encode())
        tls.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                    b"Connection: close\r\n\r\n%s" % (status, reason.encode(), len(text), text))


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
CTX.load_cert_chain(os.path.join(WORLD, "certs", "collector.crt"),
                    os.path.join(WORLD, "certs", "collector.key"))


def main():
    os.makedirs(POSTS, exist_ok=True)
    ip, port = sys.argv[1], int(sys.argv[2])
    with Server((ip, port), Handler) as srv:
        print("listening on %s:%d" % (ip, port), flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    main()
