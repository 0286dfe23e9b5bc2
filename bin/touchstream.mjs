#!/usr/bin/env node
// The `touchstream` executable: loads the TypeScript CLI through tsx, so a clean clone runs after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../app/cli.ts');
