// The synthetic day: deterministic by seed, every contract event type present, every event valid.
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, parseEvent, toContractJson } from '../../schemas/events.ts';
import { generateDay } from '../../sources/generator/synthetic-day.ts';

describe('generateDay', () => {
  const day = generateDay({ seed: 3, customers: 1500 });

  it('is the same for the same seed and different for another', () => {
    expect(generateDay({ seed: 3, customers: 1500 })).toEqual(day);
    expect(generateDay({ seed: 4, customers: 1500 })).not.toEqual(day);
  });

  it('produces every contract event type', () => {
    expect(new Set(day.map((event) => event.type))).toEqual(new Set(EVENT_TYPES));
  });

  it('produces only events the contract accepts, in time order, with unique ids', () => {
    const now = Date.parse('2026-11-10T00:00:00Z');
    for (const event of day) expect(parseEvent(toContractJson(event), now).ok, event.event_id).toBe(true);
    expect(day.every((event, index) => index === 0 || day[index - 1]!.occurred_at <= event.occurred_at)).toBe(true);
    expect(new Set(day.map((event) => event.event_id)).size).toBe(day.length);
  });

  it('plants the key drivers in NPS scores only: without them the same events, ids and times, NPS scores apart', () => {
    const without = generateDay({ seed: 3, customers: 1500, plantedDrivers: false });
    expect(without.map(({ event_id, type, occurred_at }) => [event_id, type, occurred_at])).toEqual(day.map(({ event_id, type, occurred_at }) => [event_id, type, occurred_at]));
    const changed = day.filter((event, index) => JSON.stringify(event) !== JSON.stringify(without[index]));
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((event) => event.type === 'survey_response' && event.properties.metric === 'nps')).toBe(true);
  });
});
