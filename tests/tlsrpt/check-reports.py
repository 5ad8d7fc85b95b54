#!/usr/bin/python3
"""Check TLSRPT reports as they arrived in the test world (RFC 8460).

  check-reports.py --schema S --submitter D --day YYYY-MM-DD --sending-ip IP mail FILE...
  check-reports.py --schema S --submitter D --day YYYY-MM-DD --sending-ip IP post NUM...
      (post: NUM is a request of the world's collector, $WORLD_COLLECTOR_DIR/posts/NUM.{head,body})

For each report prints "ok - ..." / "not ok - ..." lines for what the RFC
asks of it (mail: section 5.3 headers and MIME structure, a DKIM signature
by the submitter domain that verifies through the world's DNS; https:
section 5.4 media type; both: gzip, JSON valid against the section 4
schema, the report day, policy-string and mx-host as the world publishes
them, the sending address) and one line
  report <mail|post> <policy-domain> <policy-summary>
and the lines "report-id ID" and "reporter ORGANIZATION-NAME|CONTACT-INFO", where <policy-summary> is, for each policy (sorted), TYPE:S=n,F=n followed
by ,RESULT-TYPE=n[@receiving-mx-hostname/receiving-ip] for each
failure-details row (sorted): what
the test compares with the deliveries it made. Exit status 0 (the caller
counts the "not ok" lines), 2 on bad usage.
"""
import argparse
import calendar
import email
import email.policy
import gzip
import json
import os
import re
import sys
import time

import dkim
import jsonschema

out = []


def ok(cond, desc, why=""):
    out.append(("ok - " if cond else "not ok - ") + desc + ("" if cond or not why else ": " + why))
    return cond


def day_bounds(day):
    start = calendar.timegm(time.strptime(day, "%Y-%m-%d"))
    return start, start + 86400


def policy_summary(report):
    parts = []
    for p in report.get("policies", []):
        pol, summ = p.get("policy", {}), p.get("summary", {})
        s = "%s:S=%s,F=%s" % (pol.get("policy-type"), summ.get("total-successful-session-count"),
                              summ.get("total-failure-session-count"))
        rows = []
        for d in p.get("failure-details", []):
            where = ""
            if d.get("receiving-mx-hostname") or d.get("receiving-ip"):
                where = "@%s/%s" % (d.get("receiving-mx-hostname"), d.get("receiving-ip"))
            rows.append("%s=%s%s" % (d.get("result-type"), d.get("failed-session-count"), where))
        s += "".join("," + r for r in sorted(rows))
        parts.append(s)
    return " ".join(sorted(parts))


def served_policy(domain):
    """The lines of the policy the world serves for domain (or None)."""
    try:
        text = open(os.path.join(os.environ["WORLD_DIR"], "https", "sites", domain, "policy")).read()
    except OSError:
        return None
    return [l.strip() for l in text.replace("\r", "").split("\n") if l.strip()]


def check_policy(what, pol):
    """sts: policy-string and mx-host are the policy served; tlsa: the
    policy-string is the TLSA records of the MX hosts in mx-host."""
    ptype, dom = pol.get("policy-type"), pol.get("policy-domain")
    if ptype == "sts" and "policy-string" in pol:
        lines = served_policy(dom)
        ok(pol["policy-string"] == lines, "%s: sts policy-string is the policy served" % what,
           "%r vs %r" % (pol["policy-string"], lines))
        mx = [l.split(":", 1)[1].strip() for l in lines or [] if l.startswith("mx:")]
        ok(pol.get("mx-host") == mx, "%s: sts mx-host is the policy's mx patterns" % what,
           "%r vs %r" % (pol.get("mx-host"), mx))
    elif ptype == "tlsa":
        import dns.resolver
        want = set()
        for h in pol.get("mx-host", []):
            ans = dns.resolver.resolve("_25._tcp." + h, "TLSA", raise_on_no_answer=False)
            want |= {r.to_text() for r in ans}
        ok(bool(want) and set(pol.get("policy-string", [])) == want,
           "%s: tlsa policy-string is the MX hosts' TLSA records in DNS" % what,
           "%r vs %r" % (pol.get("policy-string"), sorted(want)))


def check_json(what, gz, args, validator):
    """The report inside a gzip body: gzip, JSON, schema, day, counts."""
    if args.save_dir:
        # as the receiving domain would keep it, for "mtasts tlsrpt read"
        name = re.sub(r"[^A-Za-z0-9.-]", "_", what.split(" (")[0]) + ".json.gz"
        with open(os.path.join(args.save_dir, name), "wb") as f:
            f.write(gz)
    try:
        raw = gzip.decompress(gz)
    except (OSError, EOFError) as e:
        ok(False, "%s: body is gzip" % what, str(e))
        return None
    ok(True, "%s: body is gzip" % what)
    try:
        report = json.loads(raw)
    except ValueError as e:
        ok(False, "%s: gunzipped body is JSON" % what, str(e))
        return None
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
    ok(not errors, "%s: valid against the RFC 8460 section 4 schema" % what,
       "; ".join("%s: %s" % ("/".join(map(str, e.path)), e.message) for e in errors[:5]))
    if errors:
        return report
    start, end = day_bounds(args.day)
    dr = report["date-range"]
    want_start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
    ends = {time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) for t in (end - 1, end)}
    ok(dr["start-datetime"] == want_start and dr["end-datetime"] in ends,
       "%s: date-range is the UTC day %s" % (what, args.day),
       "%s .. %s" % (dr["start-datetime"], dr["end-datetime"]))
    for p in report["policies"]:
        check_policy(what, p["policy"])
        ips = {d["sending-mta-ip"] for d in p.get("failure-details", []) if "sending-mta-ip" in d}
        if ips:
            ok(ips == {args.sending_ip}, "%s: sending-mta-ip is %s" % (what, args.sending_ip), repr(ips))
        s = p["summary"]
        det = sum(d["failed-session-count"] for d in p.get("failure-details", []))
        ok(det == s["total-failure-session-count"],
           "%s: %s policy: failure-details sum to total-failure-session-count" % (what, p["policy"]["policy-type"]),
           "%d vs %d" % (det, s["total-failure-session-count"]))
    return report


def check_mail(path, args, validator):
    raw = open(path, "rb").read()
    # The receiver adds its own headers on top (Return-path, Envelope-to,
    # Delivery-date, X-World-*): DKIM ignores unsigned ones, as it must.
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    dom = (msg.get("TLS-Report-Domain") or "").strip()
    what = "mail %s (%s)" % (dom or "?", os.path.basename(path))
    ok(bool(dom), "%s: TLS-Report-Domain header" % what)
    ok((msg.get("TLS-Report-Submitter") or "").strip() == args.submitter,
       "%s: TLS-Report-Submitter is %s" % (what, args.submitter), repr(msg.get("TLS-Report-Submitter")))
    subj = " ".join((msg.get("Subject") or "").split())
    m = re.fullmatch(r"Report Domain: (\S+) Submitter: (\S+) Report-ID: <([^<>\s]+)>", subj)
    ok(bool(m) and m.group(1) == dom and m.group(2) == args.submitter,
       "%s: Subject of RFC 8460 5.3" % what, repr(subj))
    ok(msg.get_content_type() == "multipart/report" and msg.get_param("report-type") == "tlsrpt",
       "%s: Content-Type multipart/report; report-type=\"tlsrpt\"" % what, repr(msg.get("Content-Type")))
    parts = msg.get_payload() if msg.is_multipart() else []
    ok(len(parts) >= 2 and parts[0].get_content_maintype() == "text",
       "%s: first part human-readable text (RFC 6522)" % what,
       repr([p.get_content_type() for p in parts]))
    gzparts = [p for p in parts if p.get_content_type() == "application/tlsrpt+gzip"]
    ok(len(gzparts) == 1, "%s: one application/tlsrpt+gzip part" % what,
       repr([p.get_content_type() for p in parts]))
    # DKIM (RFC 8460 3: MUST be signed by the reporting domain, no l=)
    try:
        # strict: the key record must carry s=tlsrpt (RFC 8460 3), as the
        # world's does; l= is ignored (the whole body counts).
        d = dkim.DKIM(raw, tlsrpt="strict")
        good = d.verify()
        ok(good, "%s: DKIM signature verifies (python3-dkim, world DNS)" % what)
        sig = dkim.parse_tag_value(re.sub(rb"\s+", b"", (msg.get("DKIM-Signature") or "").encode()))
        ok(sig.get(b"d") == args.submitter.encode(), "%s: DKIM d= is the submitter domain" % what,
           repr(sig.get(b"d")))
        ok(b"l" not in sig, "%s: DKIM signature has no l= (RFC 8460 3)" % what)
    except Exception as e:  # dkimpy raises several types; any means "not verified"
        ok(False, "%s: DKIM signature verifies (python3-dkim, world DNS)" % what, "%s: %s" % (type(e).__name__, e))
    report = None
    if len(gzparts) == 1:
        part = gzparts[0]
        fn = part.get_filename() or ""
        start, end = day_bounds(args.day)
        fm = re.fullmatch(r"([^!]+)!([^!]+)!(\d+)!(\d+)(![A-Za-z0-9]+)?\.json\.gz", fn)
        ok(bool(fm) and fm.group(1) == args.submitter and fm.group(2) == dom
           and int(fm.group(3)) == start and int(fm.group(4)) in (end - 1, end),
           "%s: file name submitter!domain!begin!end[!unique-id].json.gz (5.3)" % what, repr(fn))
        report = check_json(what, part.get_payload(decode=True) or b"", args, validator)
    if report and m:
        ok(report.get("report-id") == m.group(3), "%s: Subject Report-ID is the report-id" % what,
           "%r vs %r" % (m.group(3), report.get("report-id")))
    return dom, report


def check_post(num, args, validator):
    base = os.path.join(os.environ["WORLD_COLLECTOR_DIR"], "posts", num)
    head = open(base + ".head", "rb").read().decode("latin-1").split("\r\n")
    reqline, hdrs = head[0].split(), {}
    for h in head[1:]:
        k, _, v = h.partition(":")
        if k:
            hdrs[k.strip().lower()] = v.strip()
    path = reqline[1] if len(reqline) > 1 else ""
    dom = path.rsplit("/", 1)[-1]
    what = "post %s (%s)" % (dom, num)
    ok(reqline[0] == "POST", "%s: method POST" % what, reqline[0])
    ok(hdrs.get("content-type") == "application/tlsrpt+gzip",
       "%s: Content-Type application/tlsrpt+gzip (5.4)" % what, repr(hdrs.get("content-type")))
    report = check_json(what, open(base + ".body", "rb").read(), args, validator)
    return dom, report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schema", required=True)
    ap.add_argument("--submitter", required=True)
    ap.add_argument("--day", required=True)
    ap.add_argument("--sending-ip", required=True, help="the sender's address (sending-mta-ip)")
    ap.add_argument("--save-dir", help="write each report's gzip body there as KIND_DOMAIN.json.gz")
    ap.add_argument("kind", choices=("mail", "post"))
    ap.add_argument("items", nargs="+")
    args = ap.parse_args()
    schema = json.load(open(args.schema))
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    for item in args.items:
        try:
            dom, report = (check_mail if args.kind == "mail" else check_post)(item, args, validator)
        except Exception as e:  # a report we cannot even take apart is a failure, never a crash
            ok(False, "%s %s: could be examined" % (args.kind, item), "%s: %s" % (type(e).__name__, e))
            continue
        if report is not None:
            pdoms = {p.get("policy", {}).get("policy-domain") for p in report.get("policies", [])}
            ok(pdoms == {dom}, "%s %s: every policy's policy-domain is %s" % (args.kind, dom, dom), repr(pdoms))
            out.append("report %s %s %s" % (args.kind, dom, policy_summary(report)))
            out.append("report-id %s" % report.get("report-id"))
            out.append("reporter %s|%s" % (report.get("organization-name"), report.get("contact-info")))
        else:
            out.append("report %s %s unreadable" % (args.kind, dom))
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
