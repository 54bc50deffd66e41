// An automation that is enabled but could not start (its trigger's subscription was refused): the
// list says why, and Run now answers 409 AUTOMATION_NOT_RUNNING with the reason (it was a 500);
// saving the file again starts it, and it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { removeDir, startHub, tempDir, waitFor } from '../helpers.js';

test('an enabled automation that could not start: its error in the list, Run now a 409 that says why, a save starts it again', async () => {
  const dir = tempDir('not-running-');
  const file = path.join(dir, 'automations.yaml');
  const automations = [
    {
      id: 'hall',
      triggers: [{ type: 'mqtt', topic: 'hall/motion' }],
      actions: [{ type: 'publish', topic: 'hall/seen', payload: 'yes' }],
    },
  ];
  writeFileSync(file, stringify(automations));
  const h = await startHub({ http: { enabled: true, port: 0 } }, dir);
  try {
    const api = h.hub.api!.url;
    // the broker refuses the trigger's subscription (as an ACL or a broker gone away would)
    const bus = h.hub.bus;
    const subscribe = bus.subscribe.bind(bus);
    let refuse = true;
    bus.subscribe = (async (topic: string, qos?: 0 | 1 | 2) => {
      if (refuse && topic === 'hall/motion') throw new Error('subscription to hall/motion refused by the broker');
      return subscribe(topic, qos);
    }) as typeof bus.subscribe;
    // a changed definition (text applied as a save would) restarts its runner
    const changed = stringify([{ ...automations[0], name: 'Hall motion' }]);
    assert.equal(await h.hub.automations.reload(changed), undefined);
    const info = h.hub.automations.list().find((a) => a.id === 'hall')!;
    assert.equal(info.enabled, true);
    assert.equal(info.running, false);
    assert.equal(info.error, 'subscription to hall/motion refused by the broker');

    const res = await fetch(`${api}/api/automations/hall/trigger`, { method: 'POST' });
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 409, JSON.stringify(body));
    assert.equal(body.error.code, 'AUTOMATION_NOT_RUNNING');
    assert.match(body.error.message, /could not start, so it cannot run: subscription to hall\/motion refused/);
    assert.match(body.error.message, /fix it in automations\.yaml/);

    // the cause goes away; a save (a reload) starts it, the error is gone and Run now runs it
    refuse = false;
    assert.equal(await h.hub.automations.reload(changed), undefined);
    const again = h.hub.automations.list().find((a) => a.id === 'hall')!;
    assert.equal(again.running, true);
    assert.equal(again.error, undefined);
    const ok = await fetch(`${api}/api/automations/hall/trigger`, { method: 'POST' });
    assert.equal(ok.status, 200, await ok.text());
    await waitFor(() => h.hub.automations.runs('hall', 1)[0]?.status === 'ok', 5000, 'the run by hand');
  } finally {
    await h.stop();
    removeDir(dir);
  }
});
