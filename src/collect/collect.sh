#!/bin/sh
# landfall collect, for nodes without Node.js: writes a landfall node snapshot (JSON) of this
# node's netfilter state, addresses, routes and policy rules to stdout. POSIX sh and awk only.
# Run as root, on the node or through `kubectl debug node/NAME ... -- chroot /host sh -c "..."`.
# What the node lacks is left out with a note. Same document as `landfall collect`.
LC_ALL=C
export LC_ALL
tmp=$(mktemp -d 2>/dev/null || echo "/tmp/landfall-collect.$$")
mkdir -p "$tmp" && chmod 700 "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
: >"$tmp/notes"

note() { printf '%s\n' "$1" >>"$tmp/notes"; }

# JSON string of a file's bytes, escaped exactly as JSON.stringify does.
json_file() {
  if [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]; then last=0; else last=1; fi
  awk -v last="$last" '
    BEGIN {
      ORS = ""; printf "\""
      for (i = 1; i < 32; i++) if (i != 9 && i != 10) ctl = ctl sprintf("%c", i)
      hex = "0123456789abcdef"
    }
    # gsub replacement strings treat backslashes differently across awks: split and join instead.
    function join(n, p, sep,    out, i) { out = p[1]; for (i = 2; i <= n; i++) out = out sep p[i]; return out }
    function esc(s,    out, i, c, k, p, n) {
      n = split(s, p, /\\/); s = join(n, p, "\\\\")
      n = split(s, p, /"/); s = join(n, p, "\\\"")
      n = split(s, p, /\t/); s = join(n, p, "\\t")
      if (s !~ ("[" ctl "]")) return s
      out = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1); k = index(ctl, c)
        if (k == 0) { out = out c; continue }
        k = k < 9 ? k : k + 2
        if (k == 8) out = out "\\b"
        else if (k == 12) out = out "\\f"
        else if (k == 13) out = out "\\r"
        else out = out "\\u00" substr(hex, int(k / 16) + 1, 1) substr(hex, k % 16 + 1, 1)
      }
      return out
    }
    { if (NR > 1) printf "\\n"; printf "%s", esc($0) }
    END { if (NR > 0 && last == 1) printf "\\n"; printf "\"" }
  ' "$1"
}

# run FIELD WHAT CMD...: the command's stdout becomes FIELD; a missing tool or a failure is a note.
run() {
  field=$1; what=$2; shift 2
  if ! command -v "$1" >/dev/null 2>&1; then note "$what: $1 not found; left out"; return; fi
  if "$@" >>"$tmp/$field" 2>"$tmp/err"; then
    : >"$tmp/$field.ok"
  else
    note "$what: \`$*\` failed: $(head -n 1 "$tmp/err")"
  fi
}

run iptables iptables iptables-save
run ip6tables ip6tables ip6tables-save
run nftables nftables nft -j list ruleset
if [ -e /proc/net/ip_vs ]; then run ipvs ipvs ipvsadm-save -n; else note "ipvs: IPVS is not loaded (no /proc/net/ip_vs); left out"; fi
run ipsets ipsets ipset save
run addresses addresses ip -j addr
run routes routes ip -j -4 route show table all
if [ -e "$tmp/routes.ok" ]; then run routes routes ip -j -6 route show table all; : >"$tmp/routes.ok"; fi
run rules rules ip -j -4 rule
if [ -e "$tmp/rules.ok" ]; then run rules rules ip -j -6 rule; : >"$tmp/rules.ok"; fi

printf '{\n  "format": "landfall-snapshot/1"'
uname -n >"$tmp/hostname" 2>/dev/null && [ -s "$tmp/hostname" ] && { printf ',\n  "hostname": '; tr -d '\n' <"$tmp/hostname" >"$tmp/h1"; json_file "$tmp/h1"; }
uname -r >"$tmp/kernel" 2>/dev/null && [ -s "$tmp/kernel" ] && { printf ',\n  "kernel": '; tr -d '\n' <"$tmp/kernel" >"$tmp/k1"; json_file "$tmp/k1"; }
printf ',\n  "takenAt": "%s"' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for f in iptables ip6tables nftables ipvs ipsets addresses routes rules; do
  [ -e "$tmp/$f.ok" ] || continue
  printf ',\n  "%s": ' "$f"
  json_file "$tmp/$f"
done
if [ -s "$tmp/notes" ]; then
  printf ',\n  "notes": ['
  sep='\n'
  while IFS= read -r line; do
    printf "$sep"'    '
    printf '%s\n' "$line" >"$tmp/n1"
    tr -d '\n' <"$tmp/n1" >"$tmp/n2"
    json_file "$tmp/n2"
    sep=',\n'
  done <"$tmp/notes"
  printf '\n  ]'
fi
printf '\n}\n'
