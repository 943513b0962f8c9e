# Sourced, not run: puts a Node >= 22 first on PATH. When the machine's node is older, installs
# Node 22 from the npm registry (the `node` package) into a cache directory, once.
plait_node_major() { node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || echo 0; }
if [ "$(plait_node_major)" -lt 22 ]; then
  PLAIT_NODE_DIR="${PLAIT_NODE_DIR:-$HOME/.cache/plait/node22}"
  if [ ! -x "$PLAIT_NODE_DIR/node_modules/.bin/node" ]; then
    echo "plait: node $(node --version 2>/dev/null || echo '(none)') is older than 22; installing Node 22 into $PLAIT_NODE_DIR" >&2
    mkdir -p "$PLAIT_NODE_DIR"
    npm install --prefix "$PLAIT_NODE_DIR" --no-save --no-audit --no-fund --loglevel=error node@22 >&2
  fi
  export PATH="$PLAIT_NODE_DIR/node_modules/.bin:$PATH"
fi
