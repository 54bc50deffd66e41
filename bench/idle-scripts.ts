// Child process of the idle-script bench: loads N small idle scripts, prints RSS and load time.
import { EventBus } from '../src/events.js';
import { createLogger } from '../src/log.js';
import { MqttBus } from '../src/mqtt/bus.js';
import { ScriptEngine } from '../src/scripts/engine.js';
import { configSchema } from '../src/config/schema.js';

const n = Number(process.argv[2] ?? 1);
const log = createLogger('silent');
const events = new EventBus(log);
const bus = new MqttBus({ url: 'mqtt://127.0.0.1:1', clientId: 'x', publishTimeoutMs: 1000, log, events }); // never started
const engine = new ScriptEngine({ limits: configSchema.parse({}).scripts, bus, events, log });
const src = `let count = 0;\nfunction entityAction(id, action) { count++; Mqtt.publish('zigbee2mqtt/' + id + '/set', { state: action }); }\n`;
// warm the compiled module so the first script does not carry the WebAssembly compile
if (n > 0) {
  const w = await engine.load('/warm.js', {}, '1');
  engine.unload(w.name);
}
const t0 = performance.now();
for (let i = 0; i < n; i++) await engine.load(`/idle/s${i}.js`, {}, src);
const loadMs = performance.now() - t0;
global.gc?.();
await new Promise((r) => setTimeout(r, 200));
process.stdout.write(JSON.stringify({ rssMb: process.memoryUsage().rss / 1048576, loadMs }));
process.exit(0);
