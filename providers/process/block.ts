import * as z from 'zod';
import { blockSchema } from '../base.js';

/** `process`: runs the command as a local subprocess (the embedded default). */
export const ProcessBlockSchema = blockSchema('process', {
  stream_output: z.boolean().default(true),
  /** Working directory for the command; default: a fresh temporary directory per run. */
  working_dir: z.string().nullable().default(null),
});
export type ProcessBlock = z.infer<typeof ProcessBlockSchema>;
