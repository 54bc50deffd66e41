// A state trigger and condition on an entity's attribute (the typed entities of issue 16: a
// light's brightness lives in its attributes and can change while its state stays "on").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../../src/events.js';
import { EntityRegistry } from '../../src/entities/registry.js';
import { openStore } from '../../src/store/db.js';
import { stateTrigger } from '../../src/automations/triggers/state.js';
import { stateCondition } from '../../src/automations/conditions/state.js';
import { removeDir, tempDir } from '../helpers.js';

test('a state trigger on an attribute fires when it changes while the state stays; a condition reads it', async () => {
  const dir = tempDir();
  const db = openStore(dir);
  const events = new EventBus();
  const registry = new EntityRegistry(db, events);
  registry.upsert({ id: 'light.hall', domain: 'light' });
  registry.setState('light.hall', 'on', { brightness: 100 });
  const fired: { from: unknown; to: unknown }[] = [];
  const ctx = { events, registry } as unknown as Parameters<typeof stateTrigger>[1];
  const trigger = stateTrigger({ type: 'state', entity: 'light.hall', attribute: 'brightness' } as never, ctx, (e) => {
    fired.push({ from: (e as { from: unknown }).from, to: (e as { to: unknown }).to });
  });
  await trigger.start();
  registry.setState('light.hall', 'on', { brightness: 200 }); // dimmed up, still on
  registry.setState('light.hall', 'on', { color_temp: 300 }); // another attribute: no fire
  registry.setState('light.hall', 'off', { brightness: 200 }); // the state, not the attribute: no fire
  registry.setState('light.hall', 'off', { brightness: 0 });
  await trigger.stop();
  assert.deepEqual(fired, [
    { from: 100, to: 200 },
    { from: 200, to: 0 },
  ]);
  const check = await stateCondition(
    { type: 'state', entity: 'light.hall', attribute: 'brightness', state: 0 } as never,
    ctx as never,
    {} as never,
    'test',
  );
  assert.deepEqual(check, { result: true, detail: 'light.hall.brightness is 0' });
  registry.flush();
  db.close();
  removeDir(dir);
});
