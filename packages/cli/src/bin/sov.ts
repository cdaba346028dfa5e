#!/usr/bin/env node
import { enableOwnCompileCache } from '@sovereign/contract/compile-cache';

// Every `sov` call (and each service `sov dev` starts) loads dozens of TypeScript files:
// Node's compile cache keeps them stripped and compiled between runs, a few times faster.
enableOwnCompileCache();
await import('../main.ts');
