#!/usr/bin/env bash
# mtasts preload build|import|list|show|remove|clear|stats against the test
# world (a store of its own; lists and a throwaway OpenPGP key made here):
#   tests/world/run-in-world bash tests/preload/test-preload-cli.sh
# Ends with "preload-cli: N passed, N failed"; exit status 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
M=${MTASTS:-build/mtasts}
PY=${PYTHON:-python3}
[ -x "$M" ] || make -s cli >/dev/null || { echo "preload-cli: 0 passed, 1 failed"; exit 1; }
if [ -z "${WORLD_DIR:-}" ]; then
    echo "not ok - must run inside the test world: tests/world/run-in-world bash $0"
    echo "preload-cli: 0 passed, 1 failed"; exit 1
fi
tmp=$(mktemp -d)
export GNUPGHOME=$tmp/gnupg
# The gpg-agent of the throwaway key (ours, by its home) goes with it.
trap 'gpgconf --kill all >/dev/null 2>&1; rm -rf "$tmp"' EXIT
source tests/cli/lib.sh
# Run as root, the store commands work as the Exim user: the store is theirs,
# and so is the directory build writes its list to.
chmod 755 "$tmp"
S=$tmp/store
mkdir "$S" "$tmp/out" && chown Debian-exim: "$S" "$tmp/out" || { nok "set-up step: store directory"; exit 1; }
ST=(--store "$S")

# setup NAME CMD... - a set-up step that must succeed
setup() {
    local name=$1; shift
    "$@" >"$tmp/setup.out" 2>&1 || { nok "set-up step: $name" "$(tail -5 "$tmp/setup.out")"; return 1; }
}
later=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
earlier=$(date -u -d '-30 days' +%Y-%m-%dT%H:%M:%SZ)
yesterday=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ)
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# eff_list FILE EXPIRES [TIMESTAMP]: an EFF list (an alias, a leading-dot
# suffix, testing), made TIMESTAMP (default 30 days ago)
eff_list() {
    cat >"$1" <<EOF
{
  "timestamp": "${3:-$earlier}",
  "expires": "$2",
  "version": "0.1",
  "author": "test",
  "policy-aliases": {"hosted": {"mode": "enforce", "mxs": [".mail.hosted.example"]}},
  "policies": {
    "eff-enforce.example": {"mode": "enforce", "mxs": ["mx.eff-enforce.example", ".mx.example.net"]},
    "eff-testing.example": {"mode": "testing", "mxs": ["mx.eff-testing.example"]},
    "eff-alias.example": {"policy-alias": "hosted"}
  }
}
EOF
}
# mtasts_list FILE EXPIRES: this project's format, one domain
mtasts_list() {
    cat >"$1" <<EOF
{"format": "mtasts-preload", "version": 1, "generated": "$yesterday", "expires": "$2",
 "domains": {"own.example": {"mode": "enforce", "mx": ["mx1.own.example", "*.mx.own.example"],
  "id": "own20261201", "max_age": 604800, "taken": "$yesterday"}}}
EOF
}

# ------------------------------------------------------------------ import
eff_list "$tmp/eff.json" "$later"
mtasts_list "$tmp/own.json" "$later"
t "import: an empty store says so" 0 --out "^no preload list imported" -- preload stats "${ST[@]}"
t "import: EFF list" 0 --out "^imported 3 domains \(eff format version 0\.1\) from " \
    -- preload import "${ST[@]}" "$tmp/eff.json"
[ "$(stat -c %U "$S/data.mdb" 2>/dev/null)" = Debian-exim ] \
    && ok "import as root: the store's files belong to the Exim user" \
    || nok "import as root: the store's files belong to the Exim user" "$(ls -l "$S")"
tj "list --json: the EFF domains, leading-dot suffix kept, alias resolved" 0 \
    'sorted(e["domain"] for e in d) == ["eff-alias.example","eff-enforce.example","eff-testing.example"] and [e for e in d if e["domain"] == "eff-enforce.example"][0]["mx"] == ["mx.eff-enforce.example", ".mx.example.net"] and [e for e in d if e["domain"] == "eff-alias.example"][0]["mode"] == "enforce" and [e for e in d if e["domain"] == "eff-alias.example"][0]["mx"] == [".mail.hosted.example"] and [e for e in d if e["domain"] == "eff-testing.example"][0]["mode"] == "testing" and all(e["id"] is None and not e["expired"] for e in d)' \
    -- preload list --json "${ST[@]}"
t "show: one entry" 0 --out "^mx: +mx\.eff-enforce\.example \.mx\.example\.net$" \
    -- preload show "${ST[@]}" EFF-Enforce.Example.
t "show: a domain not listed" 1 --err "not-listed\.example: not on the preload list" \
    -- preload show "${ST[@]}" not-listed.example
tj "stats --json: list meta and counts" 0 \
    'd["list"] and d["format"] == "eff" and d["version"] == "0.1" and d["source"].endswith("/eff.json") and d["entries"] == 3 and d["by_mode"] == {"enforce": 2, "testing": 1} and d["expired"] == 0 and not d["list_expired"]' \
    -- preload stats --json "${ST[@]}"
t "cache stats: preload entries are not domain records" 0 --out "^entries: +0$" -- cache stats "${ST[@]}"

t "import: mtasts format replaces the whole list" 0 \
    --out "^imported 1 domains \(mtasts format version 1\)" -- preload import "${ST[@]}" "$tmp/own.json"
tj "list: only the new list" 0 \
    'len(d) == 1 and d[0]["domain"] == "own.example" and d[0]["id"] == "own20261201" and d[0]["mx"] == ["mx1.own.example", "*.mx.own.example"] and d[0]["expires_at"] - d[0]["taken_at"] == 604800' \
    -- preload list --json "${ST[@]}"

t "import: an older list is refused (no rollback by replaying a list)" 1 \
    --err "import refused: .*eff\.json: the list was generated at .*, before the stored one .*--allow-older" \
    -- preload import "${ST[@]}" "$tmp/eff.json"
t "import --allow-older: imports it anyway" 0 --out "^imported 3 domains" \
    -- preload import --allow-older "${ST[@]}" "$tmp/eff.json"
t "import: a newer list again" 0 --out "^imported 1 domains" -- preload import "${ST[@]}" "$tmp/own.json"

# ------------------------------------------------- refused imports keep the old list
eff_list "$tmp/expired.json" "$yesterday"
t "import: an expired list is refused" 1 --err "import refused: .*the list expired at" \
    -- preload import "${ST[@]}" "$tmp/expired.json"
printf '{"format": "mtasts-preload",\n "version": 1,\n "domains": {,}}\n' >"$tmp/syntax.json"
t "import: a syntax error names line and column" 1 --err "import refused: .*: line 3, column [0-9]+" \
    -- preload import "${ST[@]}" "$tmp/syntax.json"
sed 's/"mx1.own.example"/"mx1..own.example"/' "$tmp/own.json" >"$tmp/badmx.json"
t "import: a bad field is named" 1 --err "domains\.own\.example\.mx: empty label" \
    -- preload import "${ST[@]}" "$tmp/badmx.json"
t "import: --format eff on an mtasts list is refused" 1 --err "format: unknown field" \
    -- preload import --format eff "${ST[@]}" "$tmp/own.json"
t "import: a missing file" 1 --err "import refused: .*No such file" \
    -- preload import "${ST[@]}" "$tmp/nothing.json"
tj "refused imports left the previous list whole" 0 'len(d) == 1 and d[0]["domain"] == "own.example"' \
    -- preload list --json "${ST[@]}"

# ------------------------------------------------------------- signatures
mkdir -m 700 "$GNUPGHOME"
setup "make a throwaway OpenPGP key" gpg --batch --pinentry-mode loopback --passphrase '' \
    --quick-gen-key 'preload list test <list@example.test>' ed25519 sign never
setup "export the keyring" sh -c 'gpg --batch --export list@example.test >"$1"' _ "$tmp/keyring.gpg"
setup "make a second key (not in the keyring)" gpg --batch --pinentry-mode loopback --passphrase '' \
    --quick-gen-key 'someone else <other@example.test>' ed25519 sign never
eff_list "$tmp/signed.json" "$later" "$yesterday"
setup "sign the list" gpg --batch --local-user list@example.test --detach-sign \
    -o "$tmp/signed.json.sig" "$tmp/signed.json"
t "import --verify: a good signature" 0 --out "imported 3 domains .*signature good" \
    -- preload import --verify "$tmp/keyring.gpg" "${ST[@]}" "$tmp/signed.json"
mtasts_list "$tmp/signed.json" "$later"    # the list changes, the signature does not
t "import --verify: a tampered list is refused" 1 --err "import refused: .*signature check failed: bad signature" \
    -- preload import --verify "$tmp/keyring.gpg" "${ST[@]}" "$tmp/signed.json"
tj "the tampered list was not imported" 0 \
    'sorted(e["domain"] for e in d) == ["eff-alias.example","eff-enforce.example","eff-testing.example"]' \
    -- preload list --json "${ST[@]}"
cp "$tmp/own.json" "$tmp/unsigned.json"
t "import --verify: a missing signature is refused" 1 --err "import refused: .*unsigned\.json\.sig: No such file" \
    -- preload import --verify "$tmp/keyring.gpg" "${ST[@]}" "$tmp/unsigned.json"
setup "sign with the other key" gpg --batch --local-user other@example.test --detach-sign \
    -o "$tmp/other.sig" "$tmp/unsigned.json"
t "import --verify: a key not in the keyring is refused" 1 --err "signature check failed: signed by a key not in the keyring" \
    -- preload import --verify "$tmp/keyring.gpg" --signature "$tmp/other.sig" "${ST[@]}" "$tmp/unsigned.json"
setup "sign with the listed key" gpg --batch --local-user list@example.test --detach-sign \
    -o "$tmp/good.sig" "$tmp/unsigned.json"
t "import --verify --signature FILE" 0 --out "imported 1 domains .*signature good" \
    -- preload import --verify "$tmp/keyring.gpg" --signature "$tmp/good.sig" "${ST[@]}" "$tmp/unsigned.json"
ls /tmp/mtasts-preload-* >/dev/null 2>&1 && nok "gpgv's private copies are removed" "$(ls -d /tmp/mtasts-preload-*)" \
    || ok "gpgv's private copies are removed"

# ------------------------------------------------ the configured source (options)
printf 'preload_source = %s\npreload_keyring = %s\n' "$tmp/signed.json" "$tmp/keyring.gpg" >"$tmp/mtasts.conf"
t "import without FILE: preload_source and preload_keyring (tampered: refused)" 1 \
    --err "signature check failed" -- preload import --config "$tmp/mtasts.conf" "${ST[@]}"
eff_list "$tmp/src.json" "$later" "$now"
printf 'preload_source = %s\npreload_keyring = %s\n' "$tmp/src.json" "$tmp/keyring.gpg" >"$tmp/mtasts.conf"
setup "sign src.json" gpg --batch --local-user list@example.test --detach-sign -o "$tmp/src.json.sig" "$tmp/src.json"
t "import without FILE: the configured source, signed" 0 --out "imported 3 domains .*from .*/src\.json, signature good" \
    -- preload import --config "$tmp/mtasts.conf" "${ST[@]}"
t "import without FILE or preload_source: usage" 2 --err "no FILE or URL" -- preload import "${ST[@]}"

# --------------------------------------------------------------- from a URL
setup "serve the list at mta-sts.idchange.test" world-ctl policy idchange.test "$tmp/own.json"
t "import URL: https, PKIX-validated" 0 --out "^imported 1 domains .* from https://mta-sts\.idchange\.test/" \
    -- preload import --allow-older "${ST[@]}" https://mta-sts.idchange.test/.well-known/mta-sts.txt
t "import URL: a redirect is not followed" 1 --err "HTTP status 302 \(redirects are not followed\)" \
    -- preload import "${ST[@]}" https://mta-sts.redirect.test/.well-known/mta-sts.txt
t "import URL: an untrusted certificate is refused" 1 --err "import refused: https://mta-sts\.https-selfsigned\.test/" \
    -- preload import "${ST[@]}" https://mta-sts.https-selfsigned.test/.well-known/mta-sts.txt
t "import URL: http:// is refused" 1 --err "only https:// URLs" \
    -- preload import "${ST[@]}" http://mta-sts.idchange.test/.well-known/mta-sts.txt
t "import URL --verify: URL.sig missing (404): refused" 1 --err "mta-sts\.txt\.sig: HTTP status 404" \
    -- preload import --verify "$tmp/keyring.gpg" "${ST[@]}" https://mta-sts.idchange.test/.well-known/mta-sts.txt

# ------------------------------------------------------- remove, clear
t "remove: one domain" 0 --out "^removed own\.example" -- preload remove "${ST[@]}" own.example
t "remove: again: not listed" 1 --err "not on the preload list" -- preload remove "${ST[@]}" own.example
t "clear" 0 --out "^preload list cleared" -- preload clear "${ST[@]}"
t "list after clear: empty" 0 --out "^preload list: empty" -- preload list "${ST[@]}"
t "stats after clear: no list" 0 --out "^no preload list imported" -- preload stats "${ST[@]}"
t "usage: unknown subcommand" 2 --err "unknown subcommand" -- preload frobnicate
t "usage: show without DOMAIN" 2 -- preload show "${ST[@]}"

# ------------------------------------------------ build against the world
t "build: domains without a valid policy are reported and left out" 1 \
    --err "nopolicy\.test: no valid policy" -- preload build "${ST[@]}" -o "$tmp/out/built.json" \
    enforce.test testing.test nopolicy.test none.test http404.test
grep -q "none\.test: no valid policy (mode none)" <<<"$err" && grep -q "http404\.test: no valid policy (fetch-failed" <<<"$err" \
    && grep -q "3 of 5 domains without a valid policy" <<<"$err" \
    && ok "build: each domain without a policy named, with the reason" \
    || nok "build: each domain without a policy named, with the reason" "$err"
"$PY" - "$tmp/out/built.json" <<'EOF' && ok "build: the preload format, entries from the live policies" || nok "build: the preload format, entries from the live policies" "$(head -c 600 "$tmp/out/built.json")"
import json, sys
d = json.load(open(sys.argv[1]))
e = d["domains"]
assert d["format"] == "mtasts-preload" and d["version"] == 1, d
assert sorted(e) == ["enforce.test", "testing.test"], e
assert e["enforce.test"] == {"mode": "enforce", "mx": ["mx1.enforce.test", "*.mx.enforce.test"],
                             "id": "enforce1", "max_age": 86400, "taken": e["enforce.test"]["taken"]}, e
assert e["testing.test"]["mode"] == "testing" and e["testing.test"]["id"] == "testing1"
EOF
t "build round trip: import what build wrote" 0 --out "^imported 2 domains \(mtasts format" \
    -- preload import "${ST[@]}" "$tmp/out/built.json"
tj "build round trip: the entries are the live policies" 0 \
    'len(d) == 2 and d[0]["domain"] == "enforce.test" and d[0]["mx"] == ["mx1.enforce.test", "*.mx.enforce.test"] and d[0]["id"] == "enforce1" and d[0]["mode"] == "enforce" and d[1]["mode"] == "testing"' \
    -- preload list --json "${ST[@]}"
printf '# list maintainers keep one domain a line\nenforce.test\n\n  dane.test  # signed\n' >"$tmp/domains.txt"
t "build --from FILE: every domain valid, exit 0" 0 --err "2 domains, each with a valid policy" \
    -- preload build "${ST[@]}" --from "$tmp/domains.txt" --valid 3 -o "$tmp/out/from.json"
"$PY" - "$tmp/out/from.json" <<'EOF' && ok "build --from: --valid sets the list's expiry" || nok "build --from: --valid sets the list's expiry" "$(head -c 400 "$tmp/out/from.json")"
import json, sys, datetime
d = json.load(open(sys.argv[1]))
t = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
assert sorted(d["domains"]) == ["dane.test", "enforce.test"], d
assert (t(d["expires"]) - t(d["generated"])).total_seconds() == 3 * 86400, d
EOF
t "build: DOMAIN and --from together: usage" 2 -- preload build --from "$tmp/domains.txt" enforce.test

echo "preload-cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
