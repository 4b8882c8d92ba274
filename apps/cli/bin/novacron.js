#!/usr/bin/env -S MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=1
// The settings above keep a long-running agent small (see src/agent-runtime.ts, which holds the
// same for agents that `novacron up` starts); they are harmless for the other commands.
import process from 'node:process';
import { main } from '../dist/main.js';

await main(process.argv);
