// The log stage's public face: the `Log` interface, its three transports (in-process, kafkajs, node-rdkafka) and the key partitioner.
export type {
  ConsumerOptions,
  Log,
  LogConsumer,
  LogProducer,
  LogRecord,
  PartitionOffset,
  ProduceRecord,
  TopicPartition,
  TopicSpec,
  TransactionalProducer,
  TransactionalProducerOptions,
} from './log.ts';
export { LogError, type LogErrorCode } from './errors.ts';
export { MemoryLog, type MemoryLogOptions } from './memory.ts';
export { KafkajsLog, type KafkajsLogOptions } from './kafkajs.ts';
export { RdkafkaLog, type RdkafkaLogOptions } from './rdkafka.ts';
export { murmur2, partitionOf } from './partitioner.ts';
