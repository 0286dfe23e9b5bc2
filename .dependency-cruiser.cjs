// Import rules of /work/shared/ARCHITECTURE.md ("Parts and what each may know"), checked by `npm run lint:imports` in CI.
//
// Each part is a whitelist: a module of a part may import its own part and what the ARCHITECTURE.md row lists under
// "may import"; every other module of ours is forbidden, which also covers the row's "never imports" column.
// Paths are relative to the repository root, where `npm run lint:imports` runs. tests (test/) may import anything and
// are not cruised.
//
// | part (ARCHITECTURE.md row)            | folder(s) here                  | may import (besides itself)                          |
// |---------------------------------------|---------------------------------|------------------------------------------------------|
// | `schemas/`                            | schemas/                        | nothing of ours                                      |
// | log / transport                       | log/                            | schemas/, for types only                             |
// | `sources/`                            | sources/                        | schemas/, the Log interface (log/log.ts)             |
// | engine                                | engine/                         | schemas/, log/log.ts; no Kafka/ClickHouse driver     |
// | `pipelines/`                          | pipelines/                      | engine/index.ts (the engine API), schemas/           |
// | `sinks/`                              | sinks/                          | schemas/                                             |
// | loader (arrow "topics ─► loader")     | loader/                         | log/log.ts, engine/index.ts, sinks/, schemas/        |
// | privacy                               | privacy/                        | schemas/                                             |
// | actions                               | actions/                        | schemas/, log/log.ts                                 |
// | serving                               | serving/                        | engine/index.ts (read-only state views), schemas/, log/log.ts |
// | composition (CLI, app, config, ops)   | app/, bin/, index.ts            | everything; only bin/, index.ts, test/, benchmarks/ import app/ |
// | `benchmarks/`                         | benchmarks/                     | the public API; a micro-benchmark also the part it measures |

/** Any module of ours (what a part's whitelist is measured against); npm packages and node: builtins are not ours. */
const OURS = '^(actions|app|benchmarks|bin|engine|loader|log|ops|pipelines|privacy|schemas|serving|sinks|sources|test)/|^index\\.ts$';

/** The Log interface alone, without the implementations (memory, kafkajs, rdkafka) or the log/index.ts that re-exports them. */
const LOG_INTERFACE = '^log/log\\.ts$';

/** The engine's public API (STYLE.md 1: a folder's index.ts is its public face). */
const ENGINE_API = '^engine/index\\.ts$';

/** Kafka and ClickHouse drivers: resolved into node_modules, or the bare name if they ever fail to resolve. */
const DRIVERS =
  '(^|/)node_modules/(kafkajs|node-rdkafka|chdb|@clickhouse/client)(/|$)|^(kafkajs|node-rdkafka|chdb|@clickhouse/client)(/|$)';

/**
 * A benchmark's public API: the top-level index.ts, a part's own index.ts (engine/, log/) or a connector's
 * (sources/collector/), the schemas (the contract every part may import; there is no schemas/index.ts) and the
 * composition root (app/): the harness starts workers the way the CLI does.
 */
const BENCHMARK_PUBLIC_API = '^index\\.ts$|^[a-z-]+/index\\.ts$|^sources/[a-z-]+/index\\.ts$|^schemas/|^app/';

/**
 * Micro-benchmarks and the part each one measures (ARCHITECTURE.md, `benchmarks/` row: "a micro-benchmark of one part
 * may import that part"). A new micro-benchmark gets a line here.
 */
const MICRO_BENCHMARKS = [
  // Avro wire decoding and validation of the Kafka topic source.
  { file: '^benchmarks/measure/decode\\.ts$', measures: '^sources/kafka/event-decoder\\.ts$' },
  // The ClickHouse writer and its table sinks.
  { file: '^benchmarks/workers/sink-worker\\.ts$', measures: '^sinks/clickhouse/' },
  // Keyed session state: the engine's session windows holding the CX pipeline's session-KPI accumulators.
  { file: '^benchmarks/workers/state-memory-worker\\.ts$', measures: '^engine/|^pipelines/cx/session-kpis\\.ts$' },
];

/** Folders that form the parts, for the cycle rule. */
const PARTS = '^(actions|app|benchmarks|bin|engine|loader|log|pipelines|privacy|schemas|serving|sinks|sources)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'schemas-import-nothing-of-ours',
      comment: 'ARCHITECTURE.md row `schemas/`: may import nothing of ours; never imports everything else of ours.',
      severity: 'error',
      from: { path: '^schemas/' },
      to: { path: OURS, pathNot: '^schemas/' },
    },
    {
      name: 'log-imports-only-schemas',
      comment:
        'ARCHITECTURE.md row "log / transport": may import schemas; never imports engine, pipelines, sinks, sources ' +
        '(nor the composition root, loader, benchmarks).',
      severity: 'error',
      from: { path: '^log/' },
      to: { path: OURS, pathNot: '^(log|schemas)/' },
    },
    {
      name: 'log-imports-schemas-for-types-only',
      comment:
        'ARCHITECTURE.md row "log / transport": schemas "for types only": `import type`, so no schema code ' +
        '(codecs, registries, zod) runs inside a transport.',
      severity: 'error',
      from: { path: '^log/' },
      to: { path: '^schemas/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'sources-import-only-schemas-and-log-interface',
      comment:
        'ARCHITECTURE.md row `sources/`: may import schemas and the `Log` interface (log/log.ts, not an ' +
        'implementation); never engine, pipelines, sinks.',
      severity: 'error',
      from: { path: '^sources/' },
      to: { path: OURS, pathNot: [`^(sources|schemas)/`, LOG_INTERFACE] },
    },
    {
      name: 'engine-imports-only-schemas-and-log-interface',
      comment:
        'ARCHITECTURE.md row "engine": may import schemas and the `Log` interface (log/log.ts, not memory/kafkajs/' +
        'rdkafka); never a source, sink or pipeline.',
      severity: 'error',
      from: { path: '^engine/' },
      to: { path: OURS, pathNot: ['^(engine|schemas)/', LOG_INTERFACE] },
    },
    {
      name: 'engine-no-drivers',
      comment:
        'ARCHITECTURE.md row "engine": never kafkajs, node-rdkafka, chdb, @clickhouse/client directly; it reaches ' +
        'Kafka through the `Log` it is handed.',
      severity: 'error',
      from: { path: '^engine/' },
      to: { path: DRIVERS },
    },
    {
      name: 'pipelines-import-only-engine-api-and-schemas',
      comment:
        'ARCHITECTURE.md row `pipelines/`: may import the engine API (engine/index.ts, not engine internals) and ' +
        'schemas; never sources, sinks, transports.',
      severity: 'error',
      from: { path: '^pipelines/' },
      to: { path: OURS, pathNot: ['^(pipelines|schemas)/', ENGINE_API] },
    },
    {
      name: 'pipelines-no-drivers',
      comment:
        'ARCHITECTURE.md row `pipelines/`: never transports (kafkajs, node-rdkafka) nor the sinks\' drivers ' +
        '(chdb, @clickhouse/client).',
      severity: 'error',
      from: { path: '^pipelines/' },
      to: { path: DRIVERS },
    },
    {
      name: 'sinks-import-only-schemas',
      comment: 'ARCHITECTURE.md row `sinks/`: may import schemas; never engine internals, pipelines.',
      severity: 'error',
      from: { path: '^sinks/' },
      to: { path: OURS, pathNot: '^(sinks|schemas)/' },
    },
    {
      name: 'loader-imports-only-log-interface-engine-api-sinks-schemas',
      comment:
        'ARCHITECTURE.md, the "topics ─► loader ─► ClickHouse tables" arrow: the loader reads what Kafka has ' +
        'committed through the `Log` interface (log/log.ts), may use the engine API (engine/index.ts), sinks and ' +
        'schemas; never pipelines, sources, engine internals or a log implementation (the composition root picks it).',
      severity: 'error',
      from: { path: '^loader/' },
      to: { path: OURS, pathNot: ['^(loader|sinks|schemas)/', LOG_INTERFACE, ENGINE_API] },
    },
    {
      name: 'privacy-imports-only-schemas',
      comment:
        'ARCHITECTURE.md row privacy: pseudonymisation and scrubbing at the source edge, erasure and export; may ' +
        'import schemas; never engine internals (nor pipelines, sinks, sources, transports).',
      severity: 'error',
      from: { path: '^privacy/' },
      to: { path: OURS, pathNot: '^(privacy|schemas)/' },
    },
    {
      name: 'actions-import-only-schemas-and-log-interface',
      comment:
        'ARCHITECTURE.md row actions: connectors and delivery read committed signals through the `Log` interface; ' +
        'may import schemas and log/log.ts; never engine, pipelines.',
      severity: 'error',
      from: { path: '^actions/' },
      to: { path: OURS, pathNot: ['^(actions|schemas)/', LOG_INTERFACE] },
    },
    {
      name: 'serving-imports-only-engine-api-and-schemas',
      comment:
        'ARCHITECTURE.md row serving: the HTTP face of a worker; may import the engine API (its read-only state ' +
        'views), schemas and the `Log` interface (log/log.ts: the partition-owner directory); never sources, sinks, transports.',
      severity: 'error',
      from: { path: '^serving/' },
      // The `Log` interface too: the partition-owner directory reads and writes its members topic through the Log it is handed.
      to: { path: OURS, pathNot: ['^(serving|schemas)/', ENGINE_API, LOG_INTERFACE] },
    },
    {
      name: 'actions-privacy-serving-no-drivers',
      comment: 'ARCHITECTURE.md: only the composition root and sinks/log pick drivers; these parts get them passed in.',
      severity: 'error',
      from: { path: '^(actions|privacy|serving)/' },
      to: { path: DRIVERS },
    },
    {
      name: 'only-composition-imports-loader',
      comment:
        'ARCHITECTURE.md rows composition and `benchmarks/`: the loader is wired up by the composition root; only ' +
        'app/, index.ts, test/ and benchmarks/ import loader/ (the real-time path never waits on ClickHouse).',
      severity: 'error',
      from: { path: OURS, pathNot: ['^(app|benchmarks|loader|test)/', '^index\\.ts$'] },
      to: { path: '^loader/' },
    },
    {
      name: 'only-entry-points-import-app',
      comment:
        'ARCHITECTURE.md row composition (CLI, app, config, ops): "nothing imports it" - except the entry points ' +
        'that start it (bin/, the public index.ts), the benchmark harness and tests.',
      severity: 'error',
      from: { path: OURS, pathNot: ['^(app|benchmarks|bin|test)/', '^index\\.ts$'] },
      to: { path: '^app/' },
    },
    {
      name: 'benchmarks-import-public-api',
      comment:
        'ARCHITECTURE.md row `benchmarks/`: may import the public API (index.ts, a part\'s index.ts, schemas, and ' +
        'the composition root the harness starts workers through); never other internals. Micro-benchmarks: next rule.',
      severity: 'error',
      from: { path: '^benchmarks/', pathNot: MICRO_BENCHMARKS.map(({ file }) => file) },
      to: { path: OURS, pathNot: ['^benchmarks/', BENCHMARK_PUBLIC_API] },
    },
    ...MICRO_BENCHMARKS.map(({ file, measures }) => ({
      name: 'micro-benchmark-imports-its-part',
      comment:
        'ARCHITECTURE.md row `benchmarks/`: "a micro-benchmark of one part may import that part" - this one the ' +
        `public API plus ${measures}.`,
      severity: 'error',
      from: { path: file },
      to: { path: OURS, pathNot: ['^benchmarks/', BENCHMARK_PUBLIC_API, measures] },
    })),
    {
      name: 'nothing-shipped-imports-tests-or-benchmarks',
      comment:
        'ARCHITECTURE.md, all rows: no part lists test/ or benchmarks/ under "may import"; this also holds the ' +
        'composition root (app/, bin/, index.ts) to it.',
      severity: 'error',
      from: { path: OURS, pathNot: '^(benchmarks|test)/' },
      to: { path: '^(benchmarks|test)/' },
    },
    {
      name: 'no-cycles-between-parts',
      comment:
        'ARCHITECTURE.md "the direction of dependencies is the point": a cycle that leaves its part means two parts ' +
        'know each other. Cycles inside one part are left to that part.',
      severity: 'error',
      from: { path: PARTS },
      to: { circular: true, via: { pathNot: '^$1/' } },
    },
    {
      name: 'no-unresolvable-imports',
      comment:
        'No ARCHITECTURE.md row: an import the checker cannot resolve is an import none of the rules above can ' +
        'see, so it fails too.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Count `import type` too: the rows say what a part may know, and types are knowledge (the log row even says
    // "for types only").
    tsPreCompilationDeps: true,
    // The repo imports with explicit .ts extensions (allowImportingTsExtensions); the tsconfig makes those resolve.
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.mts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
