// Turns zod issues into problems that name the field and say what is expected.
import type { z } from 'zod';
import type { Problem } from './errors.js';

export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      const plain = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key);
      out += plain ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) {
    return `required: expected ${issue.expected}`;
  }
  return issue.message.replace(/^Invalid input: /, '');
}

export function problemsFrom(error: z.ZodError, prefix = ''): Problem[] {
  const problems: Problem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      // one problem per unknown key, each with its own path
      for (const key of issue.keys) {
        problems.push({
          path: formatPath([...issue.path, key], prefix),
          message: 'unknown field: check the spelling (unknown fields are rejected, not ignored)',
        });
      }
      continue;
    }
    problems.push({ path: formatPath(issue.path, prefix), message: describe(issue) });
  }
  return problems;
}
