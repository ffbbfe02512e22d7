#!/usr/bin/env node
// Build step: writes oclif.manifest.json (every command's id, summary and help) so that starting
// prtip does not import every command module — and their dependencies — just to find one.
import { writeFileSync } from 'node:fs';
import { Plugin } from '@oclif/core';

const root = new URL('../../../', import.meta.url).pathname;
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true });
await plugin.load();
writeFileSync(`${root}oclif.manifest.json`, `${JSON.stringify(plugin.manifest, null, 2)}\n`);
console.log(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`);
