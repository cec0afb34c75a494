#!/usr/bin/env node
// The hypernova command; the code lives in dist/ (built by `npm run build`).
import { main } from '../dist/src/main.js';

process.exitCode = await main(process.argv.slice(2));
