// The serving part's public face: the customer API plugin, the LiveState it queries, the partition-owner directory and the response schemas.
export { customerApi, FORWARDED_HEADER, SERVED_BY_HEADER, type CustomerApiOptions } from './customer-api.ts';
export * from './live-state.ts';
export { openApiDocument } from './openapi.ts';
export {
  LogPartitionDirectory,
  soleWorkerDirectory,
  type LogPartitionDirectoryOptions,
  type MemberAnnouncement,
  type PartitionDirectory,
  type PartitionOwner,
  type PartitionRoute,
} from './partition-directory.ts';
export { servingConfigSchema, type ServingConfig } from './config.ts';
