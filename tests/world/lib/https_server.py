#!/usr/bin/python3
"""HTTPS server for every mta-sts.<domain> of the test world (stdlib only).

Usage: https_server.py IP PORT [DIR]   (DIR: WORLD_DIR; else from the environment)

The certificate is chosen by SNI, the content by the Host header (SNI when
there is none).  Per domain, $WORLD_DIR/https/sites/<domain>/https holds one
line "BEHAVIOUR [ARGS] [cert=PROFILE]" and .../policy the policy file; both
are read per request so that world-ctl can change them while we run.
Each request appends "<unix time> <sni> <host> <path> <status>" to
$WORLD_DIR/https/requests.log ('-' for absent fields, status 'close' when
the connection was dropped without a response).
"""
import http
import os
import socketserver
import ssl
import sys
import threading
import time

WORLD = sys.argv[3] if len(sys.argv) > 3 else os.environ["WORLD_DIR"]
SITES = os.path.join(WORLD, "https", "sites")
REQLOG = os.path.join(WORLD, "https", "requests.log")
WELL_KNOWN = "/.well-known/mta-sts.txt"
PROFILES = ("good", "expired", "wrongname", "selfsigned", "cnonly")
log_lock = threading.Lock()


def context(profile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(WORLD, "certs", "https-%s.crt" % profile),
                        os.path.join(WORLD, "certs", "https-%s.key" % profile))
    return ctx


CONTEXTS = {p: context(p) for p in PROFILES}


def domain_of(host):
    host = (host or "").split(":")[0].rstrip(".").lower()
    return host[len("mta-sts."):] if host.startswith("mta-sts.") else host


def site(domain):
    """(behaviour words, cert profile, policy bytes or None) for a domain."""
    d = os.path.join(SITES, domain) if domain and "/" not in domain else None
    words, profile, policy = ["status", "404"], "good", None
    if d and os.path.isdir(d):
        try:
            with open(os.path.join(d, "https")) as f:
                words = f.read().split() or words
        except OSError:
            pass
        try:
            with open(os.path.join(d, "policy"), "rb") as f:
                policy = f.read()
        except OSError:
            pass
    for w in list(words):
        if w.startswith("cert="):
            profile = w[5:] if w[5:] in PROFILES else "good"
            words.remove(w)
    return words, profile, policy


def sni_callback(sock, server_name, _ctx):
    sock.world_sni = server_name
    words, profile, _ = site(domain_of(server_name))
    if words[0] == "down":
        # 'down' normally means DNS points nowhere; if reached anyway, fail.
        return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
    sock.context = CONTEXTS[profile]
    return None


for c in CONTEXTS.values():
    c.sni_callback = sni_callback


def log_request(sni, host, path, status):
    with log_lock, open(REQLOG, "a") as f:
        f.write("%d %s %s %s %s\n" % (time.time(), sni or "-", host or "-", path or "-", status))


def padded_policy(policy, domain, size):
    """A valid-looking policy padded with mx lines to exactly size bytes."""
    out = bytearray(policy or b"version: STSv1\nmode: enforce\nmax_age: 86400\n")
    i = 0
    while len(out) < size:
        i += 1
        out += b"mx: pad%d.%s\n" % (i, domain.encode())
    return bytes(out[:size])


def head(status, ctype="text/plain", extra=()):
    lines = ["HTTP/1.1 %d %s" % (status, http.HTTPStatus(status).phrase)]
    if ctype:
        lines.append("Content-Type: " + ctype)
    lines += list(extra) + ["Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def chunks(data, n):
    return b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + n]), data[i:i + n])
                    for i in range(0, len(data), n)) + b"0\r\n\r\n"


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        raw = self.request
        raw.settimeout(30)
        try:
            tls = CONTEXTS["good"].wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            print("handshake from %s failed: %s" % (self.client_address[0], e), flush=True)
            return
        sni = getattr(tls, "world_sni", None)
        try:
            self.serve(tls, sni)
        except (ssl.SSLError, OSError) as e:
            print("connection (sni %s) ended: %s" % (sni, e), flush=True)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def serve(self, tls, sni):
        req = b""
        while b"\r\n\r\n" not in req and len(req) < 16384:
            data = tls.recv(4096)
            if not data:
                return
            req += data
        lines = req.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        parts = lines[0].split()
        path = parts[1] if len(parts) >= 2 else "-"
        host = None
        for h in lines[1:]:
            k, _, v = h.partition(":")
            if k.strip().lower() == "host":
                host = v.strip()
        domain = domain_of(host or sni)
        words, _, policy = site(domain)
        beh, args = words[0], words[1:]

        def send(status, body=b"", ctype="text/plain", extra=()):
            log_request(sni, host, path, status)
            tls.sendall(head(status, ctype, list(extra)) + body)

        if beh == "close":
            log_request(sni, host, path, "close")
            return
        if path != WELL_KNOWN or (policy is None and beh not in ("redirect", "status")):
            return send(404, b"not found\n", extra=["Content-Length: 10"])
        cl = lambda b: ["Content-Length: %d" % len(b)]
        if beh == "ok":
            send(200, policy, extra=cl(policy))
        elif beh == "ok-charset":
            send(200, policy, "text/plain; charset=utf-8", cl(policy))
        elif beh == "content-type":
            send(200, policy, " ".join(args) or "text/html", cl(policy))
        elif beh == "content-type-hostile":
            # ESC (a terminal escape), 8-bit bytes, a bare CR and a bare LF
            # in the header: whatever a client keeps of it must reach its
            # logs escaped.
            log_request(sni, host, path, 200)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/\x1b[2Jhtml\xc3\xa9\xff\x9b"
                        b"\rX-After-CR: 1\nX-After-LF: 1\r\n" + b"\r\n".join(
                            h.encode() for h in cl(policy) + ["Connection: close", "", ""]) + policy)
        elif beh == "chunked":
            send(200, chunks(policy, max(1, len(policy) // 3)), extra=["Transfer-Encoding: chunked"])
        elif beh == "redirect":
            url = args[0] if args else "https://mta-sts.enforce.test" + WELL_KNOWN
            body = b"moved\n"
            send(302, body, extra=["Location: " + url] + cl(body))
        elif beh == "status":
            code = int(args[0]) if args else 500
            body = b"status %d\n" % code
            send(code, body, extra=cl(body))
        elif beh == "oversize":
            body = padded_policy(policy, domain, 70000)
            send(200, body, extra=cl(body))
        elif beh == "chunked-oversize":
            send(200, chunks(padded_policy(policy, domain, 200 * 1024), 4096),
                 extra=["Transfer-Encoding: chunked"])
        elif beh == "slow":
            # Headers at once, then one body byte every 2 s for at most 120 s.
            send(200, b"", extra=cl(policy))
            end = time.time() + 120
            for i in range(len(policy)):
                if time.time() >= end:
                    break
                time.sleep(2)
                tls.sendall(policy[i:i + 1])
        else:
            send(500, b"unknown world behaviour\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True       # a slow client never blocks the listener
    allow_reuse_address = True
    request_queue_size = 64


def main():
    ip, port = sys.argv[1], int(sys.argv[2])
    with Server((ip, port), Handler) as srv:
        print("listening on %s:%d" % (ip, port), flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    main()
