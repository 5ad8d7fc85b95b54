#!/usr/bin/python3
"""Print a TLSRPT report message as RFC 8460 sections 4 and 5.3 describe it,
for the checker's self-check (tests/tlsrpt/test-tlsrpt-world.sh): a report
known to be right must pass check-reports.py, and damaged copies must not.

  sample-report.py SUBMITTER DOMAIN DAY RCPT    (message on stdout, for sendmail -t)
"""
import calendar
import email.mime.application
import email.mime.multipart
import email.mime.text
import email.utils
import gzip
import json
import os
import sys
import time

submitter, domain, day, rcpt = sys.argv[1:5]
start = calendar.timegm(time.strptime(day, "%Y-%m-%d"))
iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
# the policy the world serves for the domain, as a reporter would show it
policy = [l.strip() for l in open(os.path.join(os.environ["WORLD_DIR"], "https", "sites", domain,
                                               "policy")).read().replace("\r", "").split("\n")
          if l.strip()]
mx = [l.split(":", 1)[1].strip() for l in policy if l.startswith("mx:")]
report_id = "%s.sample.%s@%s" % (day, domain, submitter)
report = {
    "organization-name": "exim-mtasts test world",
    "date-range": {"start-datetime": iso(start), "end-datetime": iso(start + 86399)},
    "contact-info": "postmaster@" + submitter,
    "report-id": report_id,
    "policies": [{
        "policy": {"policy-type": "sts", "policy-domain": domain,
                   "policy-string": policy, "mx-host": mx},
        "summary": {"total-successful-session-count": 2, "total-failure-session-count": 1},
        "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": os.environ["WORLD_HOST_IP"],
                             "receiving-mx-hostname": "mx." + domain, "receiving-ip": "127.0.2.3",
                             "failed-session-count": 1}],
    }],
}
msg = email.mime.multipart.MIMEMultipart("report", report_type="tlsrpt")
msg["From"] = "tlsrpt-noreply@" + submitter
msg["To"] = rcpt
msg["Date"] = email.utils.formatdate(usegmt=True)
msg["Message-ID"] = "<%s>" % report_id
msg["Subject"] = "Report Domain: %s Submitter: %s Report-ID: <%s>" % (domain, submitter, report_id)
msg["TLS-Report-Domain"] = domain
msg["TLS-Report-Submitter"] = submitter
msg.attach(email.mime.text.MIMEText("TLS report for %s, %s (sample).\n" % (domain, day)))
part = email.mime.application.MIMEApplication(gzip.compress(json.dumps(report).encode()),
                                              "tlsrpt+gzip")
part.add_header("Content-Disposition", "attachment",
                filename="%s!%s!%d!%d.json.gz" % (submitter, domain, start, start + 86400))
msg.attach(part)
sys.stdout.write(msg.as_string())
