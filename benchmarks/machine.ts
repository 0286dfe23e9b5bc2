// What the benchmark ran on: cores, CPU, memory, load, and the versions of everything measured.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  /** 1/5/15-minute load averages when the run started: on a shared machine, read the numbers with this. */
  loadAverageAtStart: number[];
  versions: Record<string, string>;
}

/** Everything a command printed (some print their version on stderr), or 'unavailable'. */
const run = (command: string, args: string[]): string => {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  // eslint-disable-next-line no-control-regex
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.replace(/\u001b\[[0-9;]*m/g, '').trim() || 'unavailable';
};

const lineWith = (text: string, pattern: RegExp): string => text.split('\n').find((line) => pattern.test(line))?.trim() ?? text.split('\n')[0] ?? 'unavailable';

const packageVersion = (name: string): string => {
  try {
    const require = createRequire(import.meta.url);
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return 'unavailable';
  }
};

export async function describeMachine(): Promise<Machine> {
  return {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: loadavg().map((value) => Math.round(value * 100) / 100),
    versions: {
      node: process.version,
      os: run('uname', ['-srm']),
      kafka: '4.3.1 (ops/infra.sh, KRaft, one node)',
      kafkaStreams: '4.3.1',
      java: lineWith(run('java', ['-version']), /version/),
      kcat: lineWith(run('kcat', ['-V']), /Version/),
      clickhouseServer: run('dpkg-query', ['-W', '-f=${Version}', 'clickhouse-server']),
      maven: lineWith(run('mvn', ['-v']), /Apache Maven/),
      chdb: packageVersion('chdb'),
      kafkajs: packageVersion('kafkajs'),
      nodeRdkafka: packageVersion('node-rdkafka'),
      clickhouseClient: packageVersion('@clickhouse/client'),
      avsc: packageVersion('avsc'),
    },
  };
}
