#!/usr/bin/env bash
# Weighs Custodian's banner against other consent banners, measured the same way: the files a
# site loads (JS + CSS from each package's dist), each compressed with `gzip -9 -n`, summed.
# Peers are installed from npm into a temporary folder at pinned versions.
# Prints a markdown table; exits non-zero when Custodian's banner is over its 8 KB budget.
#   bench/banner-weight.sh            # all rows
#   KEEP=1 bench/banner-weight.sh     # keep the temporary npm folder and print its path
set -euo pipefail
cd "$(dirname "$0")/.."

BUDGET=8192
VANILLA=3.1.0      # vanilla-cookieconsent (orestbida)
KLARO=0.7.22       # klaro (KIProtect)
OSANO=3.1.1        # cookieconsent (Osano)

gz() { gzip -9 -n -c "$1" | wc -c | tr -d ' '; }
raw() { wc -c < "$1" | tr -d ' '; }

# row NAME VERSION FILE...: one table line with raw and gzipped sums.
row() {
  local name=$1 version=$2; shift 2
  local r=0 g=0 f
  for f in "$@"; do r=$((r + $(raw "$f"))); g=$((g + $(gz "$f"))); done
  printf '| %s | %s | %s | %s | %s |\n' "$name" "$version" "$(printf '%s' "$*" | sed "s|$tmp/node_modules/||g; s|$PWD/||g")" "$r" "$g"
  last=$g
}

tmp=$(mktemp -d)
[[ -n "${KEEP:-}" ]] || trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent --ignore-scripts \
  "vanilla-cookieconsent@$VANILLA" "klaro@$KLARO" "cookieconsent@$OSANO" >/dev/null)
nm=$tmp/node_modules

echo "| banner | version | files (JS + CSS a site loads) | raw bytes | gzip -9 bytes |"
echo "| --- | --- | --- | ---: | ---: |"
row "Custodian" "$(git rev-parse --short HEAD 2>/dev/null || echo dev)" "$PWD/web/banner.js" "$PWD/web/banner.css"
ours=$last
row "vanilla-cookieconsent" "$VANILLA" "$nm/vanilla-cookieconsent/dist/cookieconsent.umd.js" "$nm/vanilla-cookieconsent/dist/cookieconsent.css"
# Klaro's default bundle carries its CSS inside the JS; klaro-no-css.js + klaro.min.css is the split build.
row "Klaro" "$KLARO" "$nm/klaro/dist/klaro.js"
row "Klaro (split build)" "$KLARO" "$nm/klaro/dist/klaro-no-css.js" "$nm/klaro/dist/klaro.min.css"
row "cookieconsent (Osano)" "$OSANO" "$nm/cookieconsent/build/cookieconsent.min.js" "$nm/cookieconsent/build/cookieconsent.min.css"
[[ -n "${KEEP:-}" ]] && echo "kept $tmp" >&2

if (( ours > BUDGET )); then
  echo "Custodian's banner is $ours bytes gzipped, over the $BUDGET byte budget" >&2
  exit 1
fi
