// What every bench section hands back, and how it is printed: Markdown for people,
// the same figures as JSON (bench/results.json) for comparing runs.

export type Cell = string | number;

export interface Table {
  caption?: string;
  headers: string[];
  rows: Cell[][];
}

export interface Target {
  /** What is checked, e.g. `prepare bundle size`. */
  what: string;
  /** The target as written, e.g. `≤ 1 MB`. */
  target: string;
  /** The measured figure, formatted. */
  measured: string;
  met: boolean;
}

export interface SectionResult {
  id: string;
  title: string;
  /** How it was measured, and anything a reader must know to trust the figures. */
  notes: string[];
  tables: Table[];
  targets: Target[];
  /** The raw figures (written to results.json). */
  data: unknown;
}

function cell(value: Cell): string {
  return String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(table: Table): string {
  const lines: string[] = [];
  if (table.caption) lines.push(`**${table.caption}**`, '');
  lines.push(`| ${table.headers.map(cell).join(' | ')} |`);
  lines.push(`| ${table.headers.map(() => '---').join(' | ')} |`);
  for (const row of table.rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

export function verdict(met: boolean): string {
  return met ? 'ok' : 'MISSED';
}

export function targetsTable(targets: Target[]): Table {
  return {
    caption: 'Targets',
    headers: ['what', 'target', 'measured', 'verdict'],
    rows: targets.map((t) => [t.what, t.target, t.measured, verdict(t.met)]),
  };
}

export function sectionMarkdown(section: SectionResult): string {
  const parts = [`## ${section.title}`, ''];
  for (const note of section.notes) parts.push(`- ${note}`);
  if (section.notes.length) parts.push('');
  for (const table of section.tables) parts.push(markdownTable(table), '');
  if (section.targets.length) parts.push(markdownTable(targetsTable(section.targets)), '');
  return parts.join('\n');
}

export const MB = 1_000_000;

export function bytes(n: number): string {
  if (n >= MB) return `${(n / MB).toFixed(2)} MB`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)} kB`;
  return `${n} B`;
}

export function ms(n: number): string {
  if (n >= 10_000) return `${(n / 1000).toFixed(1)} s`;
  return n >= 100 ? `${Math.round(n)} ms` : `${n.toFixed(1)} ms`;
}

export function seconds(s: number): string {
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60} min`;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function dollars(n: number): string {
  return n < 0.01 ? `$${n.toFixed(5)}` : `$${n.toFixed(4)}`;
}
