#!/usr/bin/env node
import { enableOwnCompileCache } from '@sovereign/contract/compile-cache';

// Before anything else is loaded: the modules of the control plane are read compiled from the second start on.
enableOwnCompileCache();
await import('./command.ts');
