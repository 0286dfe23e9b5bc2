// The key-driver thread: a real worker thread computes what the calling thread would, bit for bit, and fails clearly once closed.
import { afterEach, describe, expect, it } from 'vitest';
import { startKeyDriverThread } from '../../app/key-driver-thread/index.ts';
import type { KeyDriverThread } from '../../app/key-driver-thread/index.ts';
import { keyDrivers, seededUniform } from '../../pipelines/cx/key-drivers.ts';
import type { KeyDriverJob } from '../../pipelines/cx/key-drivers.ts';

function job(seed: number): KeyDriverJob {
  const random = seededUniform(seed);
  const rows = Array.from({ length: 300 }, () => [Math.floor(random() * 3), Math.floor(random() * 4), random() * 10]);
  const scores = rows.map((row) => 9 - 2 * row[0]! + random() * 2);
  return { scores, rows, names: ['checkout_errors', 'help_views', 'duration_ms'], options: { resamples: 50, permutations: 50, confidence: 0.95, alpha: 0.05, seed } };
}

describe('the key-driver thread', () => {
  let thread: KeyDriverThread | undefined;
  afterEach(async () => {
    await thread?.close();
  });

  it('answers each computation with the calling thread\'s result, in parallel requests', async () => {
    thread = startKeyDriverThread();
    const jobs = [1, 2, 3].map(job);
    const results = await Promise.all(jobs.map((each) => thread!.compute(each)));
    expect(results).toEqual(jobs.map((each) => keyDrivers(each.scores, each.rows, each.names, each.options)));
    expect(results[0]!.drivers[0]!.significant).toBe(true);
  });

  it('rejects a computation the function refuses, and every one after the thread is closed', async () => {
    thread = startKeyDriverThread();
    await expect(thread.compute({ ...job(4), scores: [1] })).rejects.toMatchObject({ code: 'key_drivers_failed' });
    await thread.close();
    await expect(thread.compute(job(5))).rejects.toMatchObject({ code: 'key_drivers_failed' });
  });
});
