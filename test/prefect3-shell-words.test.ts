// prefect3/shell-words.ts against what Python's shlex.split returns for the same strings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../core/errors.js';
import { shellWords } from '../prefect3/shell-words.js';

test('splits as shlex.split does', () => {
  assert.deepEqual(shellWords('prefect flow-run execute'), ['prefect', 'flow-run', 'execute']);
  assert.deepEqual(shellWords(`  a 'b c' "d \\"e\\"" f\\ g '' h`), ['a', 'b c', 'd "e"', 'f g', '', 'h']);
  assert.deepEqual(shellWords(`x"y"'z'`), ['xyz']);
  assert.deepEqual(shellWords(''), []);
});

test('an unclosed quote is refused naming the field', () => {
  assert.throws(
    () => shellWords(`a 'b`, 'job_variables.command'),
    (e: unknown) => {
      return e instanceof InvalidInputError && e.problems[0]?.path === 'job_variables.command';
    },
  );
});
