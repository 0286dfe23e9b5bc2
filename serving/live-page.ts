// The live KPI page: one HTML page (German or English) whose Chart.js charts poll the running pipeline's KPI snapshot.
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';

/** What the page shows, as the composition root measures it (process metrics and the tables). */
export interface LiveKpis {
  /** Wall-clock time of the snapshot (ISO-8601). */
  at: string;
  /** Closed sessions in the tables, and of them the share converted and with an abandoned cart (0–100, null before any). */
  sessions: number;
  conversionPct: number | null;
  cartAbandonmentPct: number | null;
  revenue: number;
  /** NPS over all responses (−100…100, null before any) and the number of responses. */
  nps: number | null;
  npsResponses: number;
  /** Sessions open in the pipeline's state right now. */
  liveSessions: number;
  /** Input records processed since the process started (the page derives events/s). */
  eventsProcessed: number;
  /** Signals per action and status (emitted, suppressed). */
  signals: Array<{ action: string; status: string; count: number }>;
  /** Event arrival to committed output (signals included), seconds, over the process's lifetime. */
  latency: { p50: number | null; p99: number | null; count: number };
  /** Input records not yet committed by the pipeline; null while unmeasured. */
  consumerLag: number | null;
}

export interface LivePageOptions {
  kpis(): Promise<LiveKpis>;
  /** Chart.js's UMD bundle on disk (served as /live/chart.js: no CDN, no internet at run time); undefined: /live/chart.js answers 503. */
  chartJsFile: string | undefined;
  /** Poll interval of the page, ms. */
  pollMs?: number;
  /** Also send browsers that open `/` to the page (when nothing else serves `/`). */
  home?: boolean;
}

type Language = 'en' | 'de';

const LABELS: Record<Language, Record<string, string>> = {
  en: {
    title: 'touchstream — live customer experience',
    sessions: 'Sessions (closed)', conversion: 'Conversion', cartAbandonment: 'Cart abandonment', nps: 'NPS', responses: 'responses',
    revenue: 'Revenue', liveSessions: 'Live sessions', kpiTrend: 'Experience KPIs over time', throughput: 'Events per second',
    eventsPerSecond: 'events/s', signals: 'Next-best-action signals per action and status', emitted: 'emitted', suppressed: 'suppressed',
    latency: 'Event to signal latency (ms)', p50: 'p50', p99: 'p99', lag: 'Consumer lag (records)', updated: 'updated',
    waiting: 'waiting for data…', conversionPct: 'conversion %', cartAbandonmentPct: 'cart abandonment %',
    support_callback: 'call-back', live_chat_offer: 'chat offer', social_care: 'social care', proactive_help: 'proactive help', cart_reminder: 'cart reminder',
  },
  de: {
    title: 'touchstream — Kundenerlebnis live',
    sessions: 'Sitzungen (abgeschlossen)', conversion: 'Konversion', cartAbandonment: 'Warenkorbabbrüche', nps: 'NPS', responses: 'Antworten',
    revenue: 'Umsatz', liveSessions: 'Laufende Sitzungen', kpiTrend: 'Erlebnis-KPIs im Zeitverlauf', throughput: 'Ereignisse pro Sekunde',
    eventsPerSecond: 'Ereignisse/s', signals: 'Next-Best-Action-Signale nach Aktion und Status', emitted: 'gesendet', suppressed: 'unterdrückt',
    latency: 'Latenz Ereignis bis Signal (ms)', p50: 'p50', p99: 'p99', lag: 'Consumer-Lag (Datensätze)', updated: 'aktualisiert',
    waiting: 'warte auf Daten…', conversionPct: 'Konversion %', cartAbandonmentPct: 'Warenkorbabbruch %',
    support_callback: 'Rückruf', live_chat_offer: 'Chat-Angebot', social_care: 'Social Care', proactive_help: 'proaktive Hilfe', cart_reminder: 'Warenkorb-Erinnerung',
  },
};

/** ?lang= wins, then the browser's Accept-Language (German if it prefers German), else English. */
export function languageOf(lang: string | undefined, acceptLanguage: string | undefined): Language {
  if (lang === 'de' || lang === 'en') return lang;
  const preferred = (acceptLanguage ?? '').split(',')[0]?.trim().toLowerCase() ?? '';
  return preferred.startsWith('de') ? 'de' : 'en';
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

function page(language: Language, pollMs: number): string {
  const labels = LABELS[language];
  const tile = (id: string, label: string) => `<div class="tile"><div class="label">${escapeHtml(label)}</div><div class="value" id="${id}">–</div><div class="note" id="${id}-note"></div></div>`;
  const chart = (id: string, label: string, wide = false) => `<section class="chart${wide ? ' wide' : ''}"><h2>${escapeHtml(label)}</h2><div class="box"><canvas id="${id}"></canvas></div></section>`;
  return `<!doctype html>
<html lang="${language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(labels.title!)}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
  header { display: flex; justify-content: space-between; align-items: baseline; padding: 14px 24px; background: #1d2330; color: #fff; }
  header h1 { font-size: 20px; margin: 0; }
  header nav a { color: #9cc3ff; margin-left: 12px; }
  #updated { font-size: 13px; color: #c5cbd8; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; padding: 16px 24px 0; }
  .tile { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  .tile .label { font-size: 13px; color: #5b6478; }
  .tile .value { font-size: 28px; font-weight: 600; margin-top: 4px; }
  .tile .note { font-size: 13px; color: #5b6478; min-height: 1em; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 24px 24px; }
  .chart { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  .chart h2 { font-size: 15px; margin: 0 0 8px; }
  .box { position: relative; height: 240px; }
</style>
</head>
<body>
<header><h1>${escapeHtml(labels.title!)}</h1><div><span id="updated">${escapeHtml(labels.waiting!)}</span><nav><a href="?lang=en">EN</a><a href="?lang=de">DE</a></nav></div></header>
<div class="tiles">
${tile('sessions', labels.sessions!)}${tile('conversion', labels.conversion!)}${tile('cart-abandonment', labels.cartAbandonment!)}${tile('nps', labels.nps!)}${tile('revenue', labels.revenue!)}${tile('live-sessions', labels.liveSessions!)}
</div>
<div class="charts">
${chart('chart-kpis', labels.kpiTrend!)}${chart('chart-signals', labels.signals!)}${chart('chart-throughput', labels.throughput!)}${chart('chart-latency', labels.latency!)}${chart('chart-lag', labels.lag!)}
</div>
<script src="/live/chart.js"></script>
<script>window.TOUCHSTREAM_LIVE = ${JSON.stringify({ labels, language, pollMs }).replace(/</g, '\\u003c')};</script>
<script src="/live/app.js"></script>
</body>
</html>
`;
}

/** The browser side: polls /live/kpis, keeps a rolling window of points and updates the charts in place. */
const CLIENT = `'use strict';
(function () {
  const { labels, language, pollMs } = window.TOUCHSTREAM_LIVE;
  const WINDOW = 120;
  const number = new Intl.NumberFormat(language === 'de' ? 'de-DE' : 'en-GB', { maximumFractionDigits: 1 });
  const money = new Intl.NumberFormat(language === 'de' ? 'de-DE' : 'en-GB', { maximumFractionDigits: 0 });
  const time = (iso) => new Date(iso).toLocaleTimeString(language === 'de' ? 'de-DE' : 'en-GB');
  const line = (id, datasets, options) => new Chart(document.getElementById(id), {
    type: 'line',
    data: { labels: [], datasets: datasets.map(([label, color]) => ({ label, data: [], borderColor: color, backgroundColor: color, pointRadius: 0, tension: 0.25 })) },
    options: Object.assign({ animation: false, responsive: true, maintainAspectRatio: false, scales: { x: { ticks: { maxTicksLimit: 6 } } } }, options || {}),
  });
  const charts = {
    kpis: line('chart-kpis', [[labels.conversionPct, '#2f7d32'], [labels.cartAbandonmentPct, '#d9822b'], [labels.nps, '#3465a4']]),
    throughput: line('chart-throughput', [[labels.eventsPerSecond, '#3465a4'], [labels.liveSessions, '#8e44ad']], { scales: { y: { beginAtZero: true } } }),
    latency: line('chart-latency', [[labels.p50, '#2f7d32'], [labels.p99, '#c0392b']], { scales: { y: { beginAtZero: true } } }),
    lag: line('chart-lag', [[labels.lag, '#c0392b']], { scales: { y: { beginAtZero: true } } }),
    signals: new Chart(document.getElementById('chart-signals'), {
      type: 'bar',
      data: { labels: [], datasets: [
        { label: labels.emitted, data: [], backgroundColor: '#3465a4' },
        { label: labels.suppressed, data: [], backgroundColor: '#b8c2d6' },
      ] },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    }),
  };
  window.touchstreamCharts = charts;
  const push = (chart, label, values) => {
    chart.data.labels.push(label);
    values.forEach((value, index) => chart.data.datasets[index].data.push(value));
    if (chart.data.labels.length > WINDOW) {
      chart.data.labels.shift();
      chart.data.datasets.forEach((dataset) => dataset.data.shift());
    }
    chart.update();
  };
  const show = (id, text) => { document.getElementById(id).textContent = text; };
  let previous = null;
  async function poll() {
    try {
      const answer = await fetch('/live/kpis', { cache: 'no-store' });
      if (!answer.ok) throw new Error(String(answer.status));
      const kpis = await answer.json();
      const label = time(kpis.at);
      show('sessions', number.format(kpis.sessions));
      show('conversion', kpis.conversionPct === null ? '–' : number.format(kpis.conversionPct) + ' %');
      show('cart-abandonment', kpis.cartAbandonmentPct === null ? '–' : number.format(kpis.cartAbandonmentPct) + ' %');
      show('nps', kpis.nps === null ? '–' : number.format(kpis.nps));
      show('nps-note', number.format(kpis.npsResponses) + ' ' + labels.responses);
      show('revenue', money.format(kpis.revenue));
      show('live-sessions', number.format(kpis.liveSessions));
      push(charts.kpis, label, [kpis.conversionPct, kpis.cartAbandonmentPct, kpis.nps]);
      const seconds = previous ? (Date.parse(kpis.at) - Date.parse(previous.at)) / 1000 : 0;
      const rate = previous && seconds > 0 ? Math.max(0, kpis.eventsProcessed - previous.eventsProcessed) / seconds : 0;
      push(charts.throughput, label, [Math.round(rate), kpis.liveSessions]);
      push(charts.latency, label, [kpis.latency.p50 === null ? null : kpis.latency.p50 * 1000, kpis.latency.p99 === null ? null : kpis.latency.p99 * 1000]);
      push(charts.lag, label, [kpis.consumerLag]);
      const actions = [...new Set(kpis.signals.map((row) => row.action))].sort();
      const count = (action, status) => kpis.signals.filter((row) => row.action === action && row.status === status).reduce((sum, row) => sum + row.count, 0);
      charts.signals.data.labels = actions.map((action) => labels[action] || action);
      charts.signals.data.datasets[0].data = actions.map((action) => count(action, 'emitted'));
      charts.signals.data.datasets[1].data = actions.map((action) => count(action, 'suppressed'));
      charts.signals.update();
      show('updated', labels.updated + ' ' + label);
      previous = kpis;
    } catch (error) {
      show('updated', labels.waiting + ' (' + error.message + ')');
    } finally {
      setTimeout(poll, pollMs);
    }
  }
  poll();
})();
`;

/** Registers /live (the page), /live/app.js, /live/chart.js and /live/kpis (the JSON snapshot the page polls). */
export const livePage: FastifyPluginAsync<LivePageOptions> = async (app, options) => {
  const chartJs = options.chartJsFile ? readFileSync(options.chartJsFile) : undefined;
  const pollMs = options.pollMs ?? 1000;
  app.get('/live', async (request, reply) => {
    const { lang } = request.query as { lang?: string };
    const language = languageOf(lang, request.headers['accept-language']);
    return reply.type('text/html; charset=utf-8').header('content-language', language).header('vary', 'Accept-Language').send(page(language, pollMs));
  });
  app.get('/live/app.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(CLIENT));
  app.get('/live/chart.js', async (_request, reply) =>
    chartJs
      ? reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=86400').send(chartJs)
      : reply.code(503).type('text/javascript; charset=utf-8').send('document.body.insertAdjacentText("afterbegin", "chart.js is not installed (npm install): charts unavailable");'));
  app.get('/live/kpis', async (_request, reply) => reply.header('cache-control', 'no-store').send(await options.kpis()));
  if (options.home) app.get('/', async (_request, reply) => reply.redirect('/live'));
};
