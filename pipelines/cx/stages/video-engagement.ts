// Video KPIs (CONTRACT §3): per closed session and video, the starts, the furthest percent reached and whether it was watched to the end.
import type { ChainStage, Outputs } from '../../../engine/index.ts';
import type { VideoEngagementRow } from '../../../schemas/analytics-outputs.ts';
import type { CxItem, CxOutputs, SessionClosedItem } from '../journey-items.ts';
import { SessionEventBuffer } from '../session-event-buffer.ts';

/** [time, event_id, video_id, 's' | 'p' | 'c', percent]. */
type VideoEntry = readonly [number, string, string, 's' | 'p' | 'c', number];

export class VideoEngagement implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'video-engagement';
  readonly #buffer = new SessionEventBuffer<VideoEntry>('journey-videos');
  readonly stores = [this.#buffer];

  onItem(item: CxItem, out: Outputs<CxOutputs>): void {
    if (item.kind === 'session_closed') return this.#closed(item, out);
    if (item.kind === 'session_handed_over') return void this.#buffer.take(item.key, item.partition, item.session.start, item.session.last);
    if (item.late || item.session === null) return;
    const { event } = item;
    let entry: VideoEntry;
    if (event.type === 'video_start') entry = [event.occurred_at, event.event_id, event.properties.video_id, 's', 0];
    else if (event.type === 'video_progress') entry = [event.occurred_at, event.event_id, event.properties.video_id, 'p', event.properties.percent];
    else if (event.type === 'video_complete') entry = [event.occurred_at, event.event_id, event.properties.video_id, 'c', 100];
    else return;
    this.#buffer.add(item.key, item.partition, entry);
  }

  #closed(item: SessionClosedItem, out: Outputs<CxOutputs>): void {
    const { session, kpis } = item;
    const videos = new Map<string, VideoEngagementRow>();
    for (const [time, , videoId, kind, percent] of this.#buffer.take(item.key, item.partition, session.start, session.last)) {
      let row = videos.get(videoId);
      if (!row) {
        row = { session_id: kpis.session_id, customer_id: kpis.customer_id, video_id: videoId, first_seen_at: time, starts: 0, furthest_percent: 0, completed: false };
        videos.set(videoId, row);
      }
      if (kind === 's') row.starts++;
      if (kind === 'c') row.completed = true;
      row.furthest_percent = Math.max(row.furthest_percent, percent);
    }
    for (const row of [...videos.values()].sort((a, b) => (a.video_id < b.video_id ? -1 : a.video_id > b.video_id ? 1 : 0))) out.emit('video_engagement', row);
  }

  gauges(): Record<string, number> {
    return { video_buffers: this.#buffer.size };
  }
}
