// The active Prefect profile, as the Prefect CLI reads it: `$PREFECT_HOME/profiles.toml`
// (default ~/.prefect), `active = "<name>"` (PREFECT_PROFILE names another), `[profiles.<name>]`.
// Local use only: deployed functions never import this (nor its TOML parser).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import * as z from 'zod';
import { PrefectConfigError, type Settings } from './config.js';

const ProfilesSchema = z.looseObject({
  active: z.string().optional(),
  profiles: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

/** The active profile's string settings, or {} when there is no profiles.toml. */
export function profileSettings(
  env: NodeJS.ProcessEnv,
  read = (path: string) => readFileSync(path, 'utf8'),
): Settings {
  const home = env.PREFECT_HOME ?? join(homedir(), '.prefect');
  const path = join(home, 'profiles.toml');
  let text: string;
  try {
    text = read(path);
  } catch {
    return {};
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw new PrefectConfigError(
      `${path} is not valid TOML (${error instanceof Error ? error.message.split('\n')[0] : 'parse error'}): fix it or set PREFECT_API_URL`,
    );
  }
  const parsed = ProfilesSchema.safeParse(doc);
  if (!parsed.success)
    throw new PrefectConfigError(
      `${path} is not a Prefect profiles file ('active' a name, each [profiles.<name>] a table): fix it or set PREFECT_API_URL`,
    );
  const name = env.PREFECT_PROFILE ?? parsed.data.active ?? 'ephemeral';
  const profile = parsed.data.profiles?.[name] ?? {};
  const out: Settings = {};
  for (const [key, value] of Object.entries(profile)) if (typeof value === 'string') out[key] = value;
  return out;
}
