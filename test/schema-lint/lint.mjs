// Lints the schema as clients see it: graphql-js's standard introspection
// query (the one GraphiQL sends) is answered by the compiled schema
// (./introspect, no stores needed), the answer is turned back into SDL
// (buildClientSchema + printSchema) and graphql-schema-linter checks that with
// ./graphql-schema-linter.config.js. Exit status: 0 with no findings, 1 with
// findings, 2 when the schema could not be read.
//
// Run from anywhere: `make schema-lint`, or `node test/schema-lint/lint.mjs`.
// Extra arguments go to the linter (e.g. `--format compact`). The SDL linted is
// kept in out/schema.graphql, so a finding's line:column can be looked up.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildClientSchema, getIntrospectionQuery, printSchema } from 'graphql';
import linter from 'graphql-schema-linter';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

// The options GraphiQL 3 uses: descriptions, argument deprecation and the rest.
const query = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
});

let answer;
try {
  answer = execFileSync('go', ['run', './test/schema-lint/introspect'], {
    cwd: repo,
    input: query,
    stdio: ['pipe', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
} catch (err) {
  console.error(`schema-lint: introspection failed: ${err.message}`);
  process.exit(2);
}

const { data } = JSON.parse(answer);
const sdl = printSchema(buildClientSchema(data));
const outDir = join(here, 'out');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, 'schema.graphql');
writeFileSync(file, sdl);
console.log(`schema-lint: introspected schema, ${sdl.split('\n').length} lines of SDL, in ${relative(process.cwd(), file)}`);

const argv = [process.argv[0], 'graphql-schema-linter', '--config-directory', here, ...process.argv.slice(2), file];
const code = await linter.runner.run(process.stdout, process.stdin, process.stderr, argv);
process.exit(code);
