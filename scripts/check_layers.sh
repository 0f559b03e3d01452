#!/usr/bin/env bash
# Fails when the folders under src/ and include/switchyard/ include each other in a cycle, so
# the layering keeps reading like the folder list (DESIGN.md §2). An edge A -> B means a file in
# A includes "switchyard/B/...". Usage: scripts/check_layers.sh [repo root]
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root"

# Edges tolerated while being removed (none today); a new cycle always fails.
allowed=""

edges=$(
  for dir in src/* include/switchyard/*; do
    [ -d "$dir" ] || continue
    from=$(basename "$dir")
    grep -rhoE '#include "switchyard/[a-z_]+/' "$dir" 2>/dev/null |
      sed -E 's/.*switchyard\/([a-z_]+)\//\1/' | sort -u | grep -vx "$from" |
      sed "s/^/$from>/" || true
  done | sort -u | { if [ -n "$allowed" ]; then grep -vxF "$allowed"; else cat; fi; } || true
)

# Depth-first search for a cycle over the edge list; prints the first one found.
printf '%s\n' "$edges" | awk -F'>' '
  NF == 2 { adj[$1] = adj[$1] " " $2; nodes[$1]; nodes[$2] }
  function visit(n, path,    i, k, next_nodes) {
    if (state[n] == 1) { print "layer cycle: " path " -> " n; found = 1; return }
    if (state[n] == 2 || found) return
    state[n] = 1
    k = split(adj[n], next_nodes, " ")
    for (i = 1; i <= k && !found; i++) visit(next_nodes[i], path == "" ? n : path " -> " n)
    state[n] = 2
  }
  END {
    for (n in nodes) if (!found) visit(n, "")
    for (n in nodes) line = line sprintf("%s -> %s\n", n, adj[n])
    if (found) { printf "%s", line > "/dev/stderr"; exit 1 }
    print "no layer cycles among " length(nodes) " folders"
  }'
