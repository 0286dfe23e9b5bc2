// Picks the replay source for a file (NDJSON or CSV) and wraps it with the CLI's --rate pacing and --progress bar.
import { extname } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { z } from 'zod';
import { csvReplay } from '../sources/replay/csv-replay.ts';
import { ndjsonReplay } from '../sources/replay/ndjson-replay.ts';
import { paced } from '../sources/replay/paced.ts';
import type { Source } from '../sources/source.ts';
import { countLines, withProgress } from './progress.ts';

export interface FileSourceFlags {
  format?: 'ndjson' | 'csv';
  rate?: string;
  progress?: boolean;
}

const rateSchema = z.coerce.number().positive('must be > 0 events/s');

export function withFileSourceFlags(command: Command): Command {
  return command
    .addOption(new Option('--format <format>', 'input format (default: by extension, .csv → csv, else ndjson)').choices(['ndjson', 'csv']))
    .option('--rate <events/s>', 'publish at most this many events per second (default: as fast as the log takes them)')
    .option('--progress', 'show a progress bar (default: when stdout and stderr are terminals)')
    .option('--no-progress', 'never show a progress bar');
}

export async function fileSource(file: string, flags: FileSourceFlags): Promise<Source> {
  const format = flags.format ?? (extname(file).toLowerCase() === '.csv' ? 'csv' : 'ndjson');
  let source = format === 'csv' ? csvReplay({ path: file }) : ndjsonReplay({ path: file });
  if (flags.rate !== undefined) {
    const rate = rateSchema.safeParse(flags.rate);
    if (!rate.success) throw new Error(`--rate: ${rate.error.issues[0]?.message ?? 'invalid'}`);
    source = paced(source, rate.data);
  }
  const progress = flags.progress ?? (process.stdout.isTTY === true && process.stderr.isTTY === true);
  if (progress) source = withProgress(source, (await countLines(file)) - (format === 'csv' ? 1 : 0));
  return source;
}
