// Module hooks that append every resolved module URL to a file (set by `initialize`), so a
// test can see exactly what a code path loaded. Registered with node:module `register`.
import { appendFileSync } from 'node:fs';

let file;

export async function initialize(data) {
  file = data.file;
}

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (file) appendFileSync(file, `${result.url}\n`);
  return result;
}
