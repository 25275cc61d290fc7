// `npm run bench`: the figures this submitter exists for, measured in one run on this
// machine. Markdown tables to stdout, the same figures to bench/results.json.
//   npm run bench                      all sections
//   npm run bench -- --only watch_cost  some sections (cold_start, translation, watch_cost, burst)
import { writeFile } from 'node:fs/promises';
import { cpus, platform, release } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { burst } from './burst.js';
import { coldStart } from './cold-start.js';
import { type SectionResult, sectionMarkdown } from './lib/report.js';
import { translation } from './translate.js';
import { watchCost } from './watch-cost.js';

const ROOT = resolve(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results.json');

const SECTIONS: Record<string, () => Promise<SectionResult>> = {
  cold_start: () => coldStart(ROOT),
  translation: () => translation(),
  watch_cost: () => watchCost(),
  burst: () => burst(ROOT),
};

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  const wanted = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SECTIONS);
  const unknown = wanted.filter((name) => !(name in SECTIONS));
  if (unknown.length) {
    process.stderr.write(
      `unknown section(s) ${unknown.join(', ')}; known: ${Object.keys(SECTIONS).join(', ')}\n`,
    );
    return 2;
  }
  const machine = {
    date: new Date().toISOString(),
    node: process.versions.node,
    platform: `${platform()} ${release()}`,
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
  };
  process.stdout.write(
    `# Submitter bench\n\n${machine.date} · Node ${machine.node} (Lambda runs Node 22) · ${machine.platform} · ${machine.cpus} × ${machine.cpu_model}\n\n`,
  );
  const sections: SectionResult[] = [];
  const timings: Record<string, number> = {};
  for (const name of wanted) {
    const run = SECTIONS[name];
    if (!run) continue;
    process.stderr.write(`bench: ${name}…\n`);
    const start = performance.now();
    const section = await run();
    timings[name] = (performance.now() - start) / 1000;
    sections.push(section);
    process.stdout.write(`${sectionMarkdown(section)}\n`);
  }
  const missed = sections.flatMap((s) => s.targets.filter((t) => !t.met).map((t) => `${s.id}: ${t.what}`));
  process.stdout.write(
    missed.length
      ? `## Missed targets (${missed.length})\n\n${missed.map((m) => `- ${m}`).join('\n')}\n`
      : '## All targets met\n',
  );
  await writeFile(
    RESULTS,
    `${JSON.stringify(
      {
        machine,
        section_seconds: timings,
        missed_targets: missed,
        sections: Object.fromEntries(
          sections.map((s) => [s.id, { title: s.title, notes: s.notes, targets: s.targets, data: s.data }]),
        ),
      },
      null,
      2,
    )}\n`,
  );
  process.stderr.write(`bench: results written to bench/results.json\n`);
  return 0;
}

process.exitCode = await main();
