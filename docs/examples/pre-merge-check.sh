#!/usr/bin/env bash
# Fails (exit 1) when any grant named in FILE (one name per line, # comments allowed) is
# `blocked`, and fails closed on `unknown` too (something could not be read); the human report
# of each grant explains why. Exit 2 when an audit could not run at all.
set -uo pipefail
file=${1:?usage: pre-merge-check.sh FILE}
status=0
while IFS= read -r name; do
  name=${name%%#*}; name=$(echo "$name" | xargs)
  [ -z "$name" ] && continue
  grantguard audit --name "$name" --quiet
  code=$?
  case $code in
    0) echo "ok: $name is safe to remove" ;;
    1) echo "refused: $name is blocked or unknown (see the report above)"; status=1 ;;
    *) echo "error: the audit of $name could not run (exit $code)"; exit 2 ;;
  esac
done < "$file"
exit $status
