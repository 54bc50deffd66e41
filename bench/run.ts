// `npm run bench`: every benchmark, side by side with its anchor in the same run.
import { startMosquitto } from './lib.js';
import { benchScriptPublish, benchIdleScripts } from './script-publish.js';
import { benchReaction } from './reaction.js';
import { benchScaling } from './scaling.js';
import { benchBrokers } from './broker-suite.js';

const only = process.argv[2];
const mosquitto = await startMosquitto();
try {
  console.log(`# Smart Home benchmarks — ${new Date().toISOString()}, Node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
  if (!only || only === 'brokers') {
    console.log('## Brokers: throughput, latency, fan-out, retained storm, connections (issue 9)\n');
    console.log((await benchBrokers()).markdown);
    console.log();
  }
  if (!only || only === 'script-publish') {
    console.log('## One script publishing to an external subscriber through Mosquitto (64-byte payload, 500 in flight, median of 3 interleaved rounds)\n');
    console.log(await benchScriptPublish(mosquitto.url));
    console.log();
  }
  if (!only || only === 'idle') {
    console.log('## Idle scripts: RSS and cold start (each script has its own QuickJS runtime and WebAssembly memory)\n');
    console.log(await benchIdleScripts());
    console.log();
  }
  if (!only || only === 'reaction') {
    console.log('## Reaction: message in -> automation/flow/program -> message out, through Mosquitto, QoS 0\n');
    console.log(await benchReaction(mosquitto.url));
    console.log();
  }
  if (!only || only === 'scaling') {
    console.log('## Several hubs sharing scripted work through a shared subscription on Mosquitto (issue 8)\n');
    console.log(await benchScaling(mosquitto.url));
    console.log();
  }
} finally {
  await mosquitto.stop();
}
