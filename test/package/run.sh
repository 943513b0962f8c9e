#!/usr/bin/env bash
# The package as a user gets it (`npm run test:package`, run by .ci/run):
#   1. `npm pack` from a tree without dist/: the tarball must carry a fresh build, and nothing
#      a user does not need;
#   2. a fresh app in a temporary directory installs the tarball with its own `effect` and
#      without the Postgres driver: one copy of effect, and the SQLite journal works;
#   3. it compiles the workflow in test/package/app (strict, `declaration: true`, so every
#      exported type must be nameable through plait's public entry points: tsc reports a type
#      it cannot name, verify.ts one it named through a closed path) for NodeNext and for
#      Bundler resolution, and runs it on SQLite and, with the driver added, on Postgres
#      (PLAIT_PG_URL; required when CI=true);
#      and runs the testing kit (`plait/testing`) on it;
#   4. a second copy of effect under plait fails with plait's DuplicateEffect error;
#   5. the app moves to the oldest `effect` the peer range allows, compiles and runs again.
#
# Offline: every package comes from npm's cache, filled by the repo's `npm ci`. Packages are
# installed by their registry tarball URL because npm resolves a version range from the full
# registry document, which `npm ci` does not cache; a tarball URL is served from the cache.
#
# PLAIT_KEEP_PACKAGE_TEST=1 keeps the temporary directory (its path is printed) to look into.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/plait-package.XXXXXX")"
if [ -n "${PLAIT_KEEP_PACKAGE_TEST:-}" ]; then echo "package: working in $work"; else trap 'rm -rf "$work"' EXIT; fi
app="$work/app"
tsc="$repo/node_modules/.bin/tsc"
passed=0

step() {
  echo "package: $1"
  passed=$((passed + 1))
}

fail() {
  echo "package: FAILED: $1" >&2
  echo "package: $passed passed, 1 failed"
  exit 1
}

# Runs a node entry point of the app; stdout goes to $work/out, stderr to $work/err.
run_app() {
  (cd "$app" && node "$@" >"$work/out" 2>"$work/err")
}

show_output() {
  echo "--- stdout" >&2
  cat "$work/out" >&2
  echo "--- stderr" >&2
  cat "$work/err" >&2
}

# The registry tarball URL of a package at the version the repo's package-lock.json holds.
tarball_url() {
  node -e '
    const [lockPath, key, registry] = process.argv.slice(1)
    const entry = require(lockPath).packages[`node_modules/${key}`]
    if (entry === undefined) throw new Error(`${key} is not in package-lock.json`)
    const name = entry.name ?? key
    const base = name.split("/").pop()
    console.log(`${registry.replace(/\/?$/, "/")}${name}/-/${base}-${entry.version}.tgz`)
  ' "$repo/package-lock.json" "$1" "$(npm config get registry)"
}

install_offline() {
  (cd "$app" && npm install --offline --no-audit --no-fund --loglevel=error "$@" >"$work/out" 2>"$work/err") ||
    { show_output; fail "npm install --offline $*"; }
}

# npm must have deduplicated effect: the app's copy is the only one, plait has none of its own.
one_effect() {
  local copies
  copies="$(cd "$app" && find node_modules -type f -path '*node_modules/effect/package.json' | sort | tr '\n' ' ')"
  [ "$copies" = "node_modules/effect/package.json " ] || fail "one copy of effect expected, found: $copies"
}

# --- 1. pack ------------------------------------------------------------------------------------
rm -rf "$repo/dist"
(cd "$repo" && npm pack --json --pack-destination "$work" >"$work/pack.json" 2>"$work/pack.err") ||
  { cat "$work/pack.err" >&2; fail "npm pack"; }
node "$repo/test/package/verify.ts" tarball "$work/pack.json" || fail "the tarball's contents"
tarball="$work/$(node -e 'console.log(require(process.argv[1])[0].filename)' "$work/pack.json")"
step "npm pack built dist/ and packed only what a user needs ($(basename "$tarball"))"

# --- 2. a fresh app with its own effect, without the Postgres driver ---------------------------
mkdir -p "$app"
cp -R "$repo/test/package/app/." "$app/"
printf '{ "name": "app", "private": true, "type": "module" }\n' >"$app/package.json"
install_offline "$tarball" "$(tarball_url effect)" "$(tarball_url @types/node)" "$(tarball_url undici-types)"
one_effect
step "installed into a fresh app: one copy of effect, no Postgres driver"

(cd "$app" && "$tsc" -p tsconfig.sqlite.json) || fail "tsc (the SQLite entry point, without @effect/sql-pg)"
run_app dist/sqlite.js || { show_output; fail "the app on SQLite"; }
node "$repo/test/package/verify.ts" run sqlite "$work/out" "$work/err" || { show_output; fail "the app's SQLite run"; }
step "compiled and ran a durable workflow on SQLite, with no warning printed"

# --- 3. Postgres, and every entry point under NodeNext and Bundler resolution -------------------
install_offline "$(tarball_url @effect/sql-pg)"
(cd "$app" && "$tsc" -p tsconfig.json) || fail "tsc (NodeNext, declaration: true)"
node "$repo/test/package/verify.ts" declarations "$app" || fail "a public type the app's declarations cannot name"
(cd "$app" && "$tsc" -p tsconfig.bundler.json) || fail "tsc (Bundler resolution)"
step "compiled every entry point with declarations (NodeNext) and under Bundler resolution"

run_app dist/testing.js || { show_output; fail "the testing kit (plait/testing)"; }
node "$repo/test/package/verify.ts" testing "$work/out" "$work/err" || { show_output; fail "the testing kit's run"; }
step "plait/testing drove the booking through its sleep and signal and crashed it after every step"

run_postgres() {
  if [ -z "${PLAIT_PG_URL:-}" ]; then
    [ "${CI:-}" != "true" ] || fail "PLAIT_PG_URL is not set: CI must run the app on Postgres"
    echo "package: PLAIT_PG_URL is not set: skipping the Postgres run ($1)"
    return
  fi
  run_app dist/postgres.js || { show_output; fail "the app on Postgres ($1)"; }
  node "$repo/test/package/verify.ts" run postgres "$work/out" "$work/err" || { show_output; fail "the app's Postgres run ($1)"; }
  step "ran it on Postgres ($1)"
}
run_postgres "effect $(node -p 'require(process.argv[1]).version' "$app/node_modules/effect/package.json")"

# --- 4. a second copy of effect ------------------------------------------------------------------
# What npm nests for an app whose effect is outside plait's range: a copy under plait (its
# package.json and build suffice to load it).
nested="$app/node_modules/plait/node_modules/effect"
mkdir -p "$nested"
cp -R "$app/node_modules/effect/package.json" "$app/node_modules/effect/dist" "$nested/"
if run_app dist/sqlite.js; then show_output; fail "a run with two copies of effect succeeded"; fi
node "$repo/test/package/verify.ts" duplicate "$work/out" || { show_output; fail "the duplicate-effect failure"; }
rm -rf "$app/node_modules/plait/node_modules"
step "a second copy of effect fails with DuplicateEffect, not a decode error"

# --- 5. the oldest effect the peer range allows --------------------------------------------------
floor="$(node -p 'require(process.argv[1]).packages["node_modules/effect-floor"].version' "$repo/package-lock.json")"
range="$(node -p 'require(process.argv[1]).peerDependencies.effect' "$repo/package.json")"
[ "$range" = "^$floor" ] || fail "the effect peer range $range does not start at the tested floor $floor"
install_offline "$(tarball_url effect-floor)"
one_effect
[ "$(node -p 'require(process.argv[1]).version' "$app/node_modules/effect/package.json")" = "$floor" ] ||
  fail "the app did not move to effect $floor"
(cd "$app" && "$tsc" -p tsconfig.json) || fail "tsc against effect $floor"
run_app dist/sqlite.js || { show_output; fail "the app on SQLite with effect $floor"; }
node "$repo/test/package/verify.ts" run sqlite "$work/out" "$work/err" || { show_output; fail "the SQLite run with effect $floor"; }
run_app dist/testing.js || { show_output; fail "the testing kit with effect $floor"; }
node "$repo/test/package/verify.ts" testing "$work/out" "$work/err" || { show_output; fail "the testing kit's run with effect $floor"; }
step "compiled and ran on SQLite, and the testing kit, with effect $floor, the floor of the peer range"
run_postgres "effect $floor"

echo "package: $passed passed, 0 failed"
