// Validates an AsyncAPI document with @asyncapi/parser: prints every diagnostic as a JSON line,
// exits 1 when there is an error or a warning (severity 0 or 1), 0 otherwise.
import { Parser } from '@asyncapi/parser';
import { readFileSync } from 'node:fs';

const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(process.argv[2], 'utf8'));
let bad = document === undefined;
for (const d of diagnostics) {
  console.log(JSON.stringify({ severity: d.severity, code: d.code, message: d.message, path: d.path }));
  if (d.severity <= 1) bad = true;
}
process.exit(bad ? 1 : 0);
