#!/usr/bin/python3
"""Test world generator and helpers (Python 3 stdlib only).

Subcommands (all read WORLD_DIR from the environment):
  gen FIXTURES_DIR      generate CA, certs, DNS zones (signed), configs
  zone DOMAIN           re-render (and re-sign) one domain's zone from
                        $WORLD_DIR/dns/src/DOMAIN (used by world-ctl)
  rr DOMAIN OWNER TYPE [VALUE...]  replace (no VALUE: delete) records in
                        dns/src/DOMAIN; for TXT also drops a CNAME there
  wait-serial ZONE SERIAL TIMEOUT  wait until NSD serves that SOA serial
  wait TIMEOUT NAME=KIND:ARGS...   wait until every server answers
  dns-stub silent|refuse IP [DIR] the silent / lame DNS servers

Everything is generated at run time into WORLD_DIR: no key is committed.
"""
import base64
import hashlib
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

AUTH_DNS = "127.0.0.2"
RESOLVER = "127.0.0.53"
HTTPS_IP = "127.0.1.1"
COLLECTOR_IP = "127.0.1.3"  # the HTTPS collector of TLSRPT reports (collector.py)
COLLECTOR_NAME = "collector.test"
SILENT_DNS = "127.0.0.54"  # run-in-world starts the silent server here
TTL = 5
KEYALG = "ECDSAP256SHA256"  # alg 13: keygen and signing take milliseconds
WRONG_NAME = "not-the-host.test"
HTTPS_PROFILES = ("good", "expired", "wrongname", "selfsigned", "cnonly")
# The cnonly profile: CA-signed, valid, but its only name is the subject CN
# (no subjectAltName), which RFC 8461 3.3 / RFC 9525 do not accept.
CN_ONLY_NAME = "mta-sts.https-cnonly.test"


def W(*p):
    return os.path.join(os.environ["WORLD_DIR"], *p)


def run(cmd, cwd=None, capture=False):
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("world: command failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr))
    return r.stdout


def write(path, text, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        f.write(text)
    if mode is not None:
        os.chmod(path, mode)


def parallel(cmds):
    """Run independent commands concurrently (2 cores: halves startup)."""
    procs = [(c, subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
             for c in cmds]
    for c, p in procs:
        err = p.communicate()[1]
        if p.returncode != 0:
            sys.exit("world: command failed (%d): %s\n%s" % (p.returncode, " ".join(c), err))


# ---------------------------------------------------------------- fixtures

def read_receivers(fixtures):
    recv = []
    for line in open(os.path.join(fixtures, "receivers")):
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        name, ip, cert, starttls = line
        if starttls not in ("yes", "no") or (cert == "none") != (starttls == "no"):
            sys.exit("world: receivers: bad line for %s" % name)
        recv.append(dict(name=name, ip=ip, cert=cert, starttls=starttls == "yes"))
    return recv


def read_domains(fixtures):
    doms = {}
    base = os.path.join(fixtures, "domains")
    for d in sorted(os.listdir(base)):
        p = os.path.join(base, d)
        if not re.fullmatch(r"[a-z0-9-]+\.test", d):
            sys.exit("world: fixture domain %r must be a direct child of test." % d)

        def opt(name):
            f = os.path.join(p, name)
            return open(f, newline="").read() if os.path.exists(f) else None
        signed = opt("signed")
        doms[d] = dict(zone=opt("zone"), policy=opt("policy"), https=opt("https"),
                       signed=signed is not None, bogus_ds="bogus-ds" in (signed or ""),
                       delegate=(opt("delegate") or "").strip() or None)
    return doms


PLACEHOLDER = re.compile(r"@([A-Z0-9]+)(?::([A-Za-z0-9_-]+))?@")


def substitute(text, recv_by_name, tlsa, dkim=None):
    def rep(m):
        key, arg = m.group(1), m.group(2)
        if key == "HTTPS" and arg is None:
            return HTTPS_IP
        if key == "COLLECTOR" and arg is None:
            return COLLECTOR_IP
        if key == "DKIM" and arg in (dkim or {}):
            return dkim[arg]
        if key == "SILENT" and arg is None:
            return SILENT_DNS
        if key == "IP" and arg in recv_by_name:
            return recv_by_name[arg]["ip"]
        if key == "TLSA311" and arg in tlsa:
            return tlsa[arg]
        sys.exit("world: unknown placeholder %s" % m.group(0))
    return PLACEHOLDER.sub(rep, text)


def owners_of_receivers(domains):
    """Map receiver name -> FQDNs whose A record is @IP:<name>@ (cert SANs)."""
    names = {}
    for d, info in domains.items():
        for line in (info["zone"] or "").splitlines():
            t = line.split(";", 1)[0].split()
            if len(t) >= 3 and t[-2] == "A" and t[-1].startswith("@IP:"):
                owner = t[0]
                fq = d if owner == "@" else owner.rstrip(".") if owner.endswith(".") else owner + "." + d
                names.setdefault(t[-1][4:-1], []).append(fq)
    return names


# ---------------------------------------------------------------- CA

CA_CNF = """\
# Tiny CA config: 'openssl ca' is only needed for certificates whose
# notBefore must be in the past (the CA itself, the expired profile).
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca ]
default_ca = world_ca
[ world_ca ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
organizationName = optional
commonName = supplied
"""

LEAF_EXT = """\
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
{san}"""

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def gen_ca():
    d = W("ca")
    os.makedirs(os.path.join(d, "newcerts"), exist_ok=True)
    cnf = os.path.join(d, "ca.cnf")
    write(cnf, CA_CNF.format(dir=d))
    write(os.path.join(d, "index.txt"), "")
    write(os.path.join(d, "serial"), "1000\n")
    write(os.path.join(d, "ca.ext"), "[ v3ca ]\nbasicConstraints = critical,CA:TRUE\n"
          "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n")
    run(["openssl", "req", "-config", cnf, "-new"] + EC +
        ["-keyout", os.path.join(d, "ca.key"), "-out", os.path.join(d, "ca.csr"),
         "-subj", "/O=exim-mtasts test world/CN=World Test CA"])
    # Valid since a year ago (not just now) so that the expired leaf was issued
    # while the CA was valid: only its own dates are wrong.
    now = time.time()
    run(["openssl", "ca", "-config", cnf, "-batch", "-notext", "-selfsign",
         "-keyfile", os.path.join(d, "ca.key"), "-in", os.path.join(d, "ca.csr"),
         "-out", os.path.join(d, "ca.crt"), "-startdate", utc(now - 365 * 86400),
         "-enddate", utc(now + 3650 * 86400), "-extfile", os.path.join(d, "ca.ext"),
         "-extensions", "v3ca"])


def utc(t):
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))


def gen_certs(jobs):
    """jobs: list of (basename, profile, [names]). Writes certs/<base>.{key,crt}."""
    ca = W("ca")
    cnf = os.path.join(ca, "ca.cnf")
    certs = W("certs")
    os.makedirs(certs, exist_ok=True)
    step1, step2, serial = [], [], 2000
    for base, profile, names in jobs:
        if profile == "wrongname":
            names = [WRONG_NAME]
        if profile == "cnonly":
            names = [CN_ONLY_NAME]
        san = ",".join("DNS:" + n for n in names)
        key, crt, csr = (os.path.join(certs, base + e) for e in (".key", ".crt", ".csr"))
        ext = os.path.join(certs, base + ".ext")
        write(ext, LEAF_EXT.format(san="" if profile == "cnonly" else "subjectAltName = %s\n" % san))
        subj = "/CN=" + names[0]
        if profile == "selfsigned":
            step1.append(["openssl", "req", "-config", cnf, "-x509", "-new"] + EC +
                         ["-keyout", key, "-out", crt, "-subj", subj, "-days", "30",
                          "-addext", "subjectAltName=" + san,
                          "-addext", "basicConstraints=critical,CA:FALSE"])
            continue
        step1.append(["openssl", "req", "-config", cnf, "-new"] + EC +
                     ["-keyout", key, "-out", csr, "-subj", subj])
        if profile == "expired":
            now = time.time()
            # Valid for 29 days, ended yesterday: fails only on the date check.
            step2.append(["openssl", "ca", "-config", cnf, "-batch", "-notext", "-in", csr,
                          "-out", crt, "-startdate", utc(now - 30 * 86400),
                          "-enddate", utc(now - 86400), "-extfile", ext, "-extensions", "leaf"])
        elif profile in ("good", "wrongname", "cnonly"):
            serial += 1
            step2.append(["openssl", "x509", "-req", "-in", csr, "-out", crt,
                          "-CA", os.path.join(ca, "ca.crt"), "-CAkey", os.path.join(ca, "ca.key"),
                          "-set_serial", str(serial), "-days", "30",
                          "-extfile", ext, "-extensions", "leaf"])
        else:
            sys.exit("world: unknown cert profile %r" % profile)
    parallel(step1)
    # 'openssl ca' updates its index/serial files: those must run one at a time.
    parallel([c for c in step2 if c[1] != "ca"])
    for c in step2:
        if c[1] == "ca":
            run(c)


def dkim_selectors(domains):
    """The selectors named by @DKIM:<selector>@ placeholders."""
    return sorted({m.group(2) for i in domains.values()
                   for m in PLACEHOLDER.finditer(i["zone"] or "") if m.group(1) == "DKIM"})


def start_dkim(selectors):
    """Start making an RSA-2048 key per selector (dkim/<selector>.key);
    runs while the CA and certificates are made. Returns finish_dkim's
    argument."""
    d = W("dkim")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    keys = {s: os.path.join(d, s + ".key") for s in selectors}
    procs = [subprocess.Popen(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                               "rsa_keygen_bits:2048", "-out", k],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for k in keys.values()]
    return keys, procs


def finish_dkim(started):
    """Wait for the keys; make them readable by the Exim user (which signs
    in its transport); return selector -> the TXT rdata of its DKIM key
    record (RFC 6376 3.6.1; s=tlsrpt as RFC 8460 3 asks), split into quoted
    character-strings."""
    import grp
    keys, procs = started
    for p in procs:
        err = p.communicate()[1]
        if p.returncode != 0:
            sys.exit("world: DKIM key generation failed: %s" % err)
    gid = grp.getgrnam("Debian-exim").gr_gid
    out = {}
    for s, k in keys.items():
        os.chown(k, 0, gid)
        os.chmod(k, 0o640)
        der = subprocess.run(["openssl", "pkey", "-in", k, "-pubout", "-outform", "DER"],
                             stdout=subprocess.PIPE, check=True).stdout
        out[s] = txt_rdata("v=DKIM1; k=rsa; s=tlsrpt; p=" + base64.b64encode(der).decode())
    return out


def spki_sha256(keyfile):
    der = subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout", "-outform", "DER"],
                         stdout=subprocess.PIPE, check=True).stdout
    return hashlib.sha256(der).hexdigest()


# ---------------------------------------------------------------- DNS

def fname(zone):
    return "root" if zone == "." else zone


def next_serial(zone):
    f = W("dns", "serial", fname(zone))
    old = int(open(f).read()) if os.path.exists(f) else 0
    new = max(old + 1, int(time.time()))
    write(f, "%d\n" % new)
    return new


def zone_header(origin, serial, ns_ip=AUTH_DNS):
    o = origin if origin.endswith(".") else origin + "."
    ns = "ns.world." if o == "." else "ns." + o
    hdr = ("$ORIGIN %s\n$TTL %d\n"
           "@ SOA %s hostmaster.world. %d %d %d 60 %d\n"
           "@ NS %s\n" % (o, TTL, ns, serial, TTL, TTL, TTL, ns))
    return hdr + "%s A %s\n" % (ns, ns_ip)


def keydir(zone):
    return W("dns", "keys", zone if zone != "." else "root")


def ensure_key(zone, name="zsk"):
    """One combined signing key (flags 257) per zone; returns its base path."""
    d = keydir(zone)
    f = os.path.join(d, name)
    if os.path.exists(f):
        return os.path.join(d, open(f).read().strip())
    os.makedirs(d, exist_ok=True)
    base = run(["ldns-keygen", "-a", KEYALG, "-k", zone if zone != "." else "."],
               cwd=d, capture=True).strip()
    write(f, base + "\n")
    return os.path.join(d, base)


def ds_of(keybase):
    return run(["ldns-key2ds", "-n", "-2", keybase + ".key"], capture=True).strip()


def sign_cmd(zone, src, out, keybase):
    now = int(time.time())
    # Inception an hour back tolerates clock skew; 30 days is longer than any run.
    return ["ldns-signzone", "-i", str(now - 3600), "-e", str(now + 30 * 86400),
            "-o", zone if zone != "." else ".", "-f", out, src, keybase]


def render_zone(domain, signed):
    """Write dns/zones/<domain>.zone (+.signed) from dns/src/<domain>; returns cmd to sign."""
    serial = next_serial(domain)
    body = open(W("dns", "src", fname(domain)), newline="").read()
    zf = W("dns", "zones", fname(domain) + ".zone")
    write(zf, zone_header(domain, serial) + body)
    if signed:
        return sign_cmd(domain, zf, zf + ".signed", ensure_key(domain))
    return None


def served_file(domain, signed):
    return W("dns", "zones", fname(domain) + (".zone.signed" if signed else ".zone"))


def gen_dns(domains, recv_by_name, tlsa, dkim):
    os.makedirs(W("dns", "zones"), exist_ok=True)
    meta = []
    # Keys first (one ldns-keygen each, concurrently): the parents need the DS.
    need = [d for d, i in domains.items() if i["signed"]] + ["test", "."]
    keyjobs = []
    for z in need:
        os.makedirs(keydir(z), exist_ok=True)
        keyjobs.append(z)
    bogus = [d for d, i in domains.items() if i["bogus_ds"]]

    def kg(z, name):
        ensure_key(z, name)
    threads = [threading.Thread(target=kg, args=(z, "zsk")) for z in keyjobs]
    threads += [threading.Thread(target=kg, args=(z, "unused")) for z in bogus]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if any(not os.path.exists(os.path.join(keydir(z), "zsk")) for z in keyjobs):
        sys.exit("world: ldns-keygen failed")

    signs = []
    test_body = ""
    for d, info in domains.items():
        label = d[:-len(".test")]
        nsip = info["delegate"] or AUTH_DNS
        test_body += "%s NS ns.%s\nns.%s A %s\n" % (label, label, label, nsip)
        if info["delegate"]:
            meta.append("%s delegated %s\n" % (d, nsip))
            continue
        write(W("dns", "src", d), substitute(info["zone"] or "", recv_by_name, tlsa, dkim))
        c = render_zone(d, info["signed"])
        if c:
            signs.append(c)
        if info["signed"]:
            # bogus-ds: the parent publishes the DS of a key the child never uses.
            k = ensure_key(d, "unused" if info["bogus_ds"] else "zsk")
            test_body += ds_of(k) + "\n"
        meta.append("%s %s\n" % (d, "signed" if info["signed"] else "unsigned"))
    write(W("dns", "zones.list"), "".join(meta))
    write(W("dns", "src", "test"), test_body)
    signs.append(render_zone("test", True))
    root_body = "test. NS ns.test.\nns.test. A %s\n%s\n" % (AUTH_DNS, ds_of(ensure_key("test")))
    write(W("dns", "src", "root"), root_body)
    signs.append(render_zone(".", True))
    parallel(signs)
    # Trust anchor for unbound: the DS of the world root's key.
    write(W("unbound", "root.ds"), ds_of(ensure_key(".")) + "\n")

    zones = ["."] + ["test"] + [d for d, i in domains.items() if not i["delegate"]]
    conf = NSD_CONF.format(w=W(), ip=AUTH_DNS)
    for z in zones:
        signed = z in (".", "test") or domains[z]["signed"]
        conf += 'zone:\n\tname: "%s"\n\tzonefile: "%s"\n' % (z, served_file(z, signed))
    write(W("dns", "nsd.conf"), conf)
    write(W("unbound", "root.hints"),
          ". 3600 NS ns.world.\nns.world. 3600 A %s\n" % AUTH_DNS)
    write(W("unbound", "unbound.conf"), UNBOUND_CONF.format(w=W(), ip=RESOLVER))


NSD_CONF = """\
server:
\tip-address: {ip}
\tport: 53
\tdo-ip6: no
\tusername: ""
\tchroot: ""
\tserver-count: 1
\treuseport: no
\tdatabase: ""
\tzonelistfile: "{w}/dns/zone.list"
\txfrdfile: "{w}/dns/xfrd.state"
\txfrdir: "{w}/dns"
\tpidfile: "{w}/dns/nsd.pid"
\tlogfile: "{w}/dns/nsd.log"
\tverbosity: 1
\thide-version: yes
\tzonefiles-check: yes
remote-control:
\tcontrol-enable: yes
\tcontrol-interface: "{w}/dns/nsd.ctl"
"""

UNBOUND_CONF = """\
server:
\tinterface: {ip}
\tport: 53
\tdo-ip6: no
\tusername: ""
\tchroot: ""
\tdirectory: "{w}/unbound"
\tpidfile: "{w}/unbound/unbound.pid"
\tlogfile: "{w}/unbound/unbound.log"
\tuse-syslog: no
\tlog-time-ascii: yes
\tverbosity: 1
\tval-log-level: 2
\tnum-threads: 1
\tso-reuseport: no
\taccess-control: 127.0.0.0/8 allow
\t# test. is an RFC 6761 name that unbound answers locally by default.
\tlocal-zone: "test." nodefault
\t# Everything lives on 127.0.0.2 (NSD) / 127.0.0.55 (lame server).
\tdo-not-query-localhost: no
\troot-hints: "{w}/unbound/root.hints"
\ttrust-anchor-file: "{w}/unbound/root.ds"
\t# Short caches: tests change records at run time (world-ctl also flushes).
\tcache-max-ttl: 5
\tcache-max-negative-ttl: 5
\tval-bogus-ttl: 5
\tinfra-host-ttl: 30
\tprefetch: no
\tserve-expired: no
\taggressive-nsec: no
\tminimal-responses: no
remote-control:
\tcontrol-enable: yes
\tcontrol-interface: "{w}/unbound/unbound.ctl"
"""


def cmd_zone(domain):
    """Re-render one zone after world-ctl changed dns/src/<domain>."""
    meta = dict(l.split()[:2] for l in open(W("dns", "zones.list")) if l.strip())
    if meta.get(domain) not in ("signed", "unsigned"):
        sys.exit("world: %s is not a zone served by the world's NSD" % domain)
    c = render_zone(domain, meta[domain] == "signed")
    if c:
        run(c)
    print(open(W("dns", "serial", domain)).read().strip())


def txt_rdata(value):
    """One TXT record: quoted, split into <=255-byte character-strings."""
    b = value.encode()
    parts = [b[i:i + 255] for i in range(0, len(b), 255)] or [b""]
    esc = lambda p: p.decode().replace("\\", "\\\\").replace('"', '\\"')
    return " ".join('"%s"' % esc(p) for p in parts)


def cmd_rr(domain, owner, rtype, values, replace_types):
    """Replace every record of owner with a type in replace_types by values."""
    src = W("dns", "src", fname(domain))
    if not os.path.exists(src):
        sys.exit("world-ctl: %s is not a zone served by the world's NSD" % domain)
    origin = domain.rstrip(".") + "."

    def norm(o):
        if o == "@":
            return origin
        return o if o.endswith(".") else o + "." + origin
    want = norm(owner).lower()
    keep = []
    for line in open(src, newline="").read().splitlines():
        t = line.split(";", 1)[0].split()
        if t and not line[0].isspace() and norm(t[0]).lower() == want:
            rest = [x for x in t[1:] if not x.isdigit() and x.upper() not in ("IN", "CH")]
            if rest and rest[0].upper() in replace_types:
                continue
        keep.append(line)
    for v in values:
        keep.append("%s %s %s" % (owner, rtype, txt_rdata(v) if rtype == "TXT" else v))
    write(src, "\n".join(keep) + "\n")


def dns_name_end(msg, off):
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            return off + 2
        if n == 0:
            return off + 1
        off += n + 1


def soa_serial(server, zone, timeout=0.5):
    qid = int.from_bytes(os.urandom(2), "big")
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in [l for l in zone.split(".") if l]:
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 6, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (server, 53))
        m = s.recv(4096)
    finally:
        s.close()
    if struct.unpack(">H", m[:2])[0] != qid or struct.unpack(">H", m[6:8])[0] < 1:
        return None
    off = dns_name_end(m, 12) + 4
    off = dns_name_end(m, off)
    rtype, _, _, _ = struct.unpack(">HHIH", m[off:off + 10])
    if rtype != 6:
        return None
    off = dns_name_end(m, dns_name_end(m, off + 10))
    return struct.unpack(">I", m[off:off + 4])[0]


def cmd_wait_serial(zone, serial, timeout):
    """Wait until NSD serves the new serial (nsd-control reload is asynchronous)."""
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        try:
            got = soa_serial(AUTH_DNS, zone)
        except OSError:
            got = None
        if got is not None and got >= serial:
            return 0
        time.sleep(0.02)
    print("world-ctl: NSD still serves serial %s for %s, want %d" % (got, zone, serial),
          file=sys.stderr)
    return 1


# ---------------------------------------------------------------- SMTP

EXIM_CONF = """\
# Receive-only Exim for the test world: accept anything, store in a Maildir.
primary_hostname = {name}.receivers.world
qualify_domain = receivers.world
exim_user = Debian-exim
exim_group = Debian-exim
never_users = root
keep_environment =
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
pid_file_path = {d}/exim.pid
local_interfaces = <; {ip}
daemon_smtp_ports = 25
# No DNS or ident traffic on reception: only the sender's tests matter here.
host_lookup =
rfc1413_hosts =
helo_try_verify_hosts =
smtp_banner = {name}.receivers.world ESMTP world receiver {name}
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data
message_size_limit = 10M
{tls}
begin acl
acl_rcpt:
  accept
acl_data:
  warn add_header = X-World-Receiver: {name}
  warn add_header = X-World-TLS: ${{if def:tls_in_cipher {{cipher=$tls_in_cipher version=$tls_in_ver sni=$tls_in_sni}}{{}}}}
  accept

begin routers
maildir:
  driver = accept
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = {d}/Maildir
  maildir_format
  create_directory
  delivery_date_add
  envelope_to_add
  return_path_add
  user = Debian-exim
  group = Debian-exim
  mode = 0644

begin retry
*  *  F,1h,1m
"""


def gen_exim(receivers):
    import grp
    import pwd
    uid = pwd.getpwnam("Debian-exim").pw_uid
    gid = grp.getgrnam("Debian-exim").gr_gid
    for r in receivers:
        d = W("smtp", r["name"])
        for sub in ("spool", "log", "Maildir", "Maildir/new", "Maildir/cur", "Maildir/tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            os.chown(os.path.join(d, sub), uid, gid)
        os.chown(d, uid, gid)
        if r["starttls"]:
            crt, key = W("certs", "rcv-%s.crt" % r["name"]), W("certs", "rcv-%s.key" % r["name"])
            os.chown(key, 0, gid)
            os.chmod(key, 0o640)
            tls = ("tls_advertise_hosts = *\ntls_certificate = %s\ntls_privatekey = %s\n"
                   "tls_dhparam = none\n" % (crt, key))
        else:
            tls = "tls_advertise_hosts =\n"
        # Exim wants its config root-owned and not writable by others.
        write(os.path.join(d, "exim.conf"), EXIM_CONF.format(name=r["name"], d=d, ip=r["ip"], tls=tls),
              0o644)


# ---------------------------------------------------------------- gen

def cmd_gen(fixtures):
    receivers = read_receivers(fixtures)
    domains = read_domains(fixtures)
    recv_by_name = {r["name"]: r for r in receivers}
    owners = owners_of_receivers(domains)
    os.chmod(W(), 0o755)  # Debian-exim must reach its spool and Maildir
    dkim = start_dkim(dkim_selectors(domains))
    gen_ca()
    https_names = sorted("mta-sts." + d for d in domains)
    jobs = [("https-" + p, p, https_names) for p in HTTPS_PROFILES]
    for r in receivers:
        if r["starttls"]:
            names = owners.get(r["name"], []) + ["%s.receivers.world" % r["name"]]
            jobs.append(("rcv-" + r["name"], r["cert"], names))
    jobs.append(("collector", "good", [COLLECTOR_NAME]))
    gen_certs(jobs)
    tlsa = {r["name"]: spki_sha256(W("certs", "rcv-%s.key" % r["name"]))
            for r in receivers if r["starttls"]}
    gen_dns(domains, recv_by_name, tlsa, finish_dkim(dkim))
    gen_exim(receivers)
    # HTTPS fixtures: the server reads these per request, world-ctl edits them.
    for d, info in domains.items():
        hd = W("https", "sites", d)
        os.makedirs(hd, exist_ok=True)
        if info["policy"] is not None:
            write(os.path.join(hd, "policy"), info["policy"])
        beh = info["https"] or ("ok cert=good" if info["policy"] is not None else "status 404 cert=good")
        write(os.path.join(hd, "https"), beh.strip() + "\n")
    write(W("https", "requests.log"), "")
    # The TLSRPT collector (collector.py): kept requests, and its 503 counter.
    os.makedirs(W("collector", "posts"), exist_ok=True)
    write(W("collector", "requests.log"), "")
    write(W("collector", "fail503"), "0\n")
    lines = ["%s %s %s %s" % (r["name"], r["ip"], r["cert"], "yes" if r["starttls"] else "no")
             for r in receivers]
    write(W("receivers"), "\n".join(lines) + "\n")
    # Default system trust + the world CA, bind-mounted over the system bundle.
    sysb = "/etc/ssl/certs/ca-certificates.crt"
    bundle = open(sysb).read() if os.path.exists(sysb) else ""
    write(W("ca-bundle.crt"), bundle + "\n# exim-mtasts test world CA\n" + open(W("ca", "ca.crt")).read(),
          0o644)
    gen_hashed_certs_dir()
    write(W("resolv.conf"), "nameserver %s\noptions trust-ad timeout:2 attempts:2\n" % RESOLVER, 0o644)
    write(W("hosts"), "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n", 0o644)


def gen_hashed_certs_dir():
    """A copy of /etc/ssl/certs (bind-mounted over it) with the world CA
    added: OpenSSL's hashed lookup (CApath, <subject hash>.N links) finds it
    like any system root, and ca-certificates.crt is the world's bundle."""
    src, d = "/etc/ssl/certs", W("ssl-certs")
    os.makedirs(d)
    if os.path.isdir(src):
        for e in os.listdir(src):
            p = os.path.join(src, e)
            if os.path.islink(p):
                os.symlink(os.readlink(p), os.path.join(d, e))
            elif os.path.isfile(p):
                shutil.copyfile(p, os.path.join(d, e))
    os.chmod(d, 0o755)
    write(os.path.join(d, "ca-certificates.crt"), open(W("ca-bundle.crt")).read(), 0o644)
    write(os.path.join(d, "exim-mtasts-world-ca.pem"), open(W("ca", "ca.crt")).read(), 0o644)
    h = run(["openssl", "x509", "-noout", "-subject_hash", "-in", W("ca", "ca.crt")],
            capture=True).strip()
    n = 0
    while os.path.lexists(os.path.join(d, "%s.%d" % (h, n))):
        n += 1
    os.symlink("exim-mtasts-world-ca.pem", os.path.join(d, "%s.%d" % (h, n)))


# ---------------------------------------------------------------- wait

def dns_query(server, name, qtype, rd, timeout):
    qid = int.from_bytes(os.urandom(2), "big")
    types = {"A": 1, "NS": 2, "SOA": 6, "TXT": 16}
    q = struct.pack(">HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0)
    for label in [l for l in name.split(".") if l]:
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", types[qtype], 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        # Connected: "port unreachable" fails at once instead of timing out.
        s.connect((server, 53))
        s.send(q)
        while True:
            data = s.recv(4096)
            if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
                return data[3] & 0x0F
    finally:
        s.close()


def probe(kind, arg):
    """One attempt; returns None when the server answered as expected, else why not."""
    try:
        if kind in ("dns", "dns-rd", "dns-refused"):
            server, name, qtype = arg.split(",")
            rc = dns_query(server, name, qtype, kind == "dns-rd", 0.5)
            want = 5 if kind == "dns-refused" else 0
            return None if rc == want else "rcode %d" % rc
        host, port = arg.split(",")
        s = socket.create_connection((host, int(port)), timeout=0.5)
        try:
            if kind == "smtp":
                s.settimeout(2)
                banner = s.recv(512)
                return None if banner.startswith(b"220") else "banner %r" % banner[:60]
            if kind == "tls":
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                ctx.wrap_socket(s, server_hostname="probe.world").close()
            return None
        finally:
            s.close()
    except (OSError, ValueError) as e:
        return str(e) or type(e).__name__


def cmd_wait(timeout, specs):
    """Probe until all answer; '--' separates phases (a phase starts when the
    previous one is done).  Prints one line per server that never answered."""
    start = time.time()
    deadline = start + float(timeout)
    phases, cur = [], {}
    for spec in specs + ["--"]:
        if spec == "--":
            phases.append(cur)
            cur = {}
            continue
        name, rest = spec.split("=", 1)
        kind, arg = rest.split(":", 1)
        cur[name] = [kind, arg, "not tried"]
    for pending in phases:
        while pending:
            for name in list(pending):
                why = probe(*pending[name][:2])
                if why is None:
                    del pending[name]
                    if os.environ.get("WORLD_TIMING"):
                        print("  %s answers after %.0f ms" % (name, 1000 * (time.time() - start)),
                              file=sys.stderr)
                else:
                    pending[name][2] = why
            if not pending or time.time() > deadline:
                break
            time.sleep(0.05)
        if pending:
            for name, (kind, arg, why) in pending.items():
                print("%s %s:%s: %s" % (name, kind, arg, why))
            return 1
    return 0


# ---------------------------------------------------------------- DNS stubs

def cmd_dns_stub(mode, ip):
    """silent: swallow every query (UDP and TCP).  refuse: answer REFUSED."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((ip, 53))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((ip, 53))
    t.listen(64)

    def refused(q):
        if len(q) < 12:
            return None
        flags = struct.unpack(">H", q[2:4])[0]
        # Keep opcode and RD, set QR, RCODE=5; echo only the question.
        flags = 0x8000 | (flags & 0x7900) | 5
        qd = struct.unpack(">H", q[4:6])[0]
        end = 12
        if qd:
            while end < len(q) and q[end]:
                end += q[end] + 1
            end += 5
        return q[:2] + struct.pack(">HHHHH", flags, 1 if qd else 0, 0, 0, 0) + q[12:end]

    def tcp_conn(c):
        try:
            while True:
                if mode == "silent":
                    if not c.recv(4096):
                        return
                    continue
                hdr = c.recv(2)
                if len(hdr) < 2:
                    return
                n = struct.unpack(">H", hdr)[0]
                q = b""
                while len(q) < n:
                    chunk = c.recv(n - len(q))
                    if not chunk:
                        return
                    q += chunk
                r = refused(q)
                if r:
                    c.sendall(struct.pack(">H", len(r)) + r)
        except OSError:
            pass
        finally:
            c.close()

    def tcp_loop():
        while True:
            c, _ = t.accept()
            threading.Thread(target=tcp_conn, args=(c,), daemon=True).start()
    threading.Thread(target=tcp_loop, daemon=True).start()
    while True:
        q, peer = u.recvfrom(4096)
        if mode == "refuse":
            r = refused(q)
            if r:
                u.sendto(r, peer)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "gen" and len(argv) == 3:
        cmd_gen(argv[2])
    elif cmd == "zone" and len(argv) == 3:
        cmd_zone(argv[2])
    elif cmd == "rr" and len(argv) >= 5:
        # rr DOMAIN OWNER TYPE [VALUE...]: no value deletes
        cmd_rr(argv[2], argv[3], argv[4].upper(), argv[5:],
               ("TXT", "CNAME") if argv[4].upper() == "TXT" else (argv[4].upper(),))
    elif cmd == "wait-serial" and len(argv) == 5:
        return cmd_wait_serial(argv[2], int(argv[3]), float(argv[4]))
    elif cmd == "wait" and len(argv) >= 3:
        return cmd_wait(argv[2], argv[3:])
    elif cmd == "dns-stub" and len(argv) in (4, 5) and argv[2] in ("silent", "refuse"):
        # (argv[4], the world dir, only marks the process as this world's)
        cmd_dns_stub(argv[2], argv[3])
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
