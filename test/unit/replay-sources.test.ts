// Pins CSV replay (columns, property columns, dead letters per bad row) and --rate pacing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countLines } from '../../app/progress.ts';
import type { CxEvent } from '../../schemas/events.ts';
import type { DeadLetter } from '../../schemas/outputs.ts';
import { csvReplay } from '../../sources/replay/csv-replay.ts';
import { paced } from '../../sources/replay/paced.ts';
import type { Source, SourceBatch } from '../../sources/source.ts';

const NOW = Date.parse('2026-11-02T12:00:00.000Z');

async function drain(source: Source): Promise<{ events: CxEvent[]; rejected: DeadLetter[]; batches: SourceBatch[] }> {
  const batches: SourceBatch[] = [];
  for await (const batch of source.batches()) batches.push(batch);
  return { events: batches.flatMap((batch) => batch.events), rejected: batches.flatMap((batch) => batch.rejected), batches };
}

describe('CSV replay', () => {
  it('reads envelope columns, a properties JSON column and properties.<key> columns; bad rows become dead letters with their line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'touchstream-csv-')), 'events.csv');
    writeFileSync(
      file,
      [
        'event_id,type,occurred_at,customer_id,anonymous_id,channel,touchpoint,experiment_id,experiment_variant,properties,properties.score,properties.metric,properties.survey_id',
        'e1,page_view,2026-11-02T10:00:00.000Z,c-1,,web,home,checkout-redesign,B,"{""page"":""/"",""page_type"":""home""}",,,',
        'e2,survey_response,2026-11-02T10:05:00.000Z,c-1,,survey,,,,,9,nps,post-purchase',
        'e3,survey_response,2026-11-02T10:06:00.000Z,c-1,,survey,,,,,11,nps,post-purchase',
        'e4,page_view,2026-11-02T10:07:00.000Z,,,web,,,,"{not json",,,',
        'e5,teleport,2026-11-02T10:08:00.000Z,c-2,,web,,,,,,,',
        '',
        'e6,click,2026-11-02T10:09:00.000Z,,anon-1,app,,,,"{""element"":""buy""}",,,',
      ].join('\n'),
    );
    const { events, rejected } = await drain(csvReplay({ path: file }, () => NOW));
    expect(events.map((event) => [event.event_id, event.type, event.customer_id, event.anonymous_id, event.experiment, event.properties])).toEqual([
      ['e1', 'page_view', 'c-1', null, { id: 'checkout-redesign', variant: 'B' }, { page: '/', page_type: 'home' }],
      ['e2', 'survey_response', 'c-1', null, null, { survey_id: 'post-purchase', metric: 'nps', score: 9, comment: null, language: null }],
      ['e6', 'click', null, 'anon-1', null, { element: 'buy' }],
    ]);
    expect(rejected.map((letter) => [letter.event_id, letter.reason_code, letter.offset, letter.source])).toEqual([
      ['e3', 'invalid_event', '4', 'replay'],
      ['e4', 'invalid_json', '5', 'replay'],
      ['e5', 'unknown_type', '6', 'replay'],
    ]);
    expect(rejected[0]!.message).toBe('line 4: properties.score: nps score must be 0–10');
    expect(rejected[2]!.original.toString()).toBe('e5,teleport,2026-11-02T10:08:00.000Z,c-2,,web,,,,,,,');
  });

  it('dead-letters a row the CSV parser cannot read and goes on', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'touchstream-csv-')), 'broken.csv');
    writeFileSync(file, 'event_id,type,occurred_at,customer_id,channel,properties\ne1,click,2026-11-02T10:00:00Z,c-1,web,"{""element"":""a""}"\ne2,click,too,many,columns,here,x\ne3,click,2026-11-02T10:01:00Z,c-1,web,"{""element"":""b""}"\n');
    const { events, rejected } = await drain(csvReplay({ path: file }, () => NOW));
    expect(events.map((event) => event.event_id)).toEqual(['e1', 'e3']);
    expect(rejected.map((letter) => letter.reason_code)).toEqual(['invalid_json']);
    expect(rejected[0]!.message).toMatch(/^line 3: not a CSV row/);
  });

  it('counts lines for the progress bar, with or without a final newline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'touchstream-lines-'));
    writeFileSync(join(dir, 'a'), 'x\ny\nz\n');
    writeFileSync(join(dir, 'b'), 'x\ny\nz');
    expect([await countLines(join(dir, 'a')), await countLines(join(dir, 'b'))]).toEqual([3, 3]);
  });
});

describe('--rate pacing', () => {
  const source = (count: number): Source => ({
    name: 'test',
    async *batches() {
      const events = Array.from({ length: count }, (_, index) => ({ event_id: `e${index}` }) as unknown as CxEvent);
      yield { events, rejected: [{ reason_code: 'invalid_json' } as DeadLetter] };
    },
  });

  it('splits batches into ~100 ms chunks, keeps every event and dead letter, and takes at least count/rate seconds', async () => {
    const started = performance.now();
    const { events, rejected, batches } = await drain(paced(source(300), 1000));
    const elapsed = performance.now() - started;
    expect(events.map((event) => event.event_id)).toEqual(Array.from({ length: 300 }, (_, index) => `e${index}`));
    expect(rejected).toHaveLength(1);
    expect(batches.map((batch) => batch.events.length)).toEqual([100, 100, 100]);
    expect(elapsed).toBeGreaterThanOrEqual(290);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => paced(source(1), 0)).toThrow(/rate must be > 0/);
  });
});
