// touchstream's public API: the types users' own operators, rules and transports compile against, and the entry points to run the pipeline.
export type { CxEvent, CxEventOf, Channel, EventType, EventTimeMs, Experiment, PropertiesOf } from './schemas/events.ts';
export { parseEvent, sessionKeyOf, isSessionEvent, EVENT_TYPES, CHANNELS } from './schemas/events.ts';
export type {
  Alert, DeadLetter, EventRow, RejectReason, SessionKpis, Signal, SignalAudience, SignalCart, SignalCartItem, SignalContext, SignalExperience, SignalFeedback,
  SignalMention, SignalSessionKpis, SignalStatus, SignalTrigger,
} from './schemas/outputs.ts';
export { TOPICS } from './schemas/outputs.ts';
export { TouchstreamError, isRetriable } from './schemas/errors.ts';
export type { SchemaRegistry } from './schemas/registry.ts';
export { LocalSchemaRegistry } from './schemas/registry.ts';
export type { Log, LogConsumer, LogProducer, LogRecord, PartitionOffset, ProduceRecord, TopicSpec } from './log/log.ts';
export { MemoryLog } from './log/memory.ts';
export * from './engine/index.ts';
export type { ActionSpec, Condition, ConditionOperator, Rule, RuleAction, RuleSpec } from './pipelines/cx/rules/rule.ts';
export { defineRule } from './pipelines/cx/rules/rule.ts';
export type { FactName } from './pipelines/cx/rules/facts.ts';
export { FACTS } from './pipelines/cx/rules/facts.ts';
export { RuleSet, compileRules, loadRulesFile } from './pipelines/cx/rules/rule-set.ts';
export { DEFAULT_RULES } from './pipelines/cx/rules/default-rules.ts';
export type { ChannelSwitchRow, DriverAnalysisRow, FeedbackRow, KpiMinuteRow, PurchaseAttributionRow, SocialMentionRow } from './schemas/analytics-outputs.ts';
export type { CxOutputs } from './pipelines/cx/journey-operator.ts';
export { JourneyOperator } from './pipelines/cx/journey-operator.ts';
export type { Source, SourceBatch } from './sources/source.ts';
export type { Config, ConfigInput } from './app/config.ts';
export { loadConfig } from './app/config.ts';
export { ingest, openRuntime, replay, runPipeline } from './app/runtime.ts';
