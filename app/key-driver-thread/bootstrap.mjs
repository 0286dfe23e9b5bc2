// Starts the key-driver thread's TypeScript entry through tsx (a worker thread does not inherit the main thread's loader).
import { register } from 'tsx/esm/api';

register();
await import('./thread.ts');
