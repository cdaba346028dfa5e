#!/usr/bin/env node
import { enableOwnCompileCache } from '@sovereign/contract/compile-cache';

// Before anything else is loaded: the modules of a data plane are read compiled from the second start on.
enableOwnCompileCache();
await import('./command.ts');
