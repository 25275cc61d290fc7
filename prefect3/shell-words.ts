// A command string split into words as a POSIX shell (and Python's shlex.split) would: quotes
// group, backslashes escape, no expansion. Prefect's workers take `command` as one string.
import { InvalidInputError } from '../core/errors.js';

export function shellWords(text: string, path = 'command'): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1] ?? '')) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 < text.length) word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) {
    throw new InvalidInputError('Invalid command', [
      { path, message: `has an unclosed ${quote} quote: close it or escape it with a backslash` },
    ]);
  }
  if (inWord) words.push(word);
  return words;
}
