// Config: file + env + flags, validated, with errors that name the file, line and key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { tempDir, removeDir } from '../helpers.js';

function withFile(text: string, fn: (file: string, dir: string) => void): void {
  const dir = tempDir();
  const file = path.join(dir, 'smart-home.yaml');
  writeFileSync(file, text);
  try {
    fn(file, dir);
  } finally {
    removeDir(dir);
  }
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

test('defaults: embedded broker on 127.0.0.1:1883, HTTP on 127.0.0.1:8080, data in ./data', () => {
  const dir = tempDir();
  const { config, file } = loadConfig({}, {}, dir);
  assert.equal(file, undefined);
  assert.deepEqual(config.broker.listeners, [{ type: 'tcp', host: '127.0.0.1', port: 1883 }]);
  assert.equal(config.http.port, 8080);
  assert.equal(config.http.host, '127.0.0.1');
  assert.equal(config.data_dir, path.join(dir, 'data'));
  assert.equal(config.mqtt.url, null);
  removeDir(dir);
});

test('an unknown key is rejected with its line and a did-you-mean', () => {
  withFile('log_level: info\nbroker:\n  listners: []\n', (file) => {
    const msg = configError(() => loadConfig({ config: file }, {}));
    assert.match(
      msg,
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:3: unknown key "broker.listners" \\(did you mean "listeners"\\?\\)`,
      ),
    );
    assert.match(msg, /allowed here: listeners, allow_anonymous/);
  });
});

test('a value of the wrong type names the key, the line and what is allowed', () => {
  withFile('http:\n  host: 127.0.0.1\n  port: "eighty"\n', (file) => {
    const msg = configError(() => loadConfig({ config: file }, {}));
    assert.match(msg, /smart-home\.yaml:3:3: http\.port: .*expected number/);
  });
  withFile('log_level: loud\n', (file) => {
    assert.match(
      configError(() => loadConfig({ config: file }, {})),
      /:1:1: log_level: .*"fatal"\|"error"\|"warn"\|"info"/,
    );
  });
  withFile('broker:\n  listeners:\n    - type: tcp\n      port: 70000\n', (file) => {
    assert.match(
      configError(() => loadConfig({ config: file }, {})),
      /:4:7: broker\.listeners\.0\.port: .*65535/,
    );
  });
});

test('an unknown listener type lists the allowed ones', () => {
  withFile('broker:\n  listeners:\n    - type: udp\n', (file) => {
    assert.match(
      configError(() => loadConfig({ config: file }, {})),
      /:3:7: broker\.listeners\.0\.type: .*'tcp' \| 'tls' \| 'ws'/,
    );
  });
});

test('invalid YAML is reported at its line', () => {
  withFile('broker:\n  listeners: [\n', (file) => {
    assert.match(
      configError(() => loadConfig({ config: file }, {})),
      /smart-home\.yaml:\d+:\d+: invalid YAML/,
    );
  });
  withFile('a: 1\na: 2\n', (file) => {
    assert.match(
      configError(() => loadConfig({ config: file }, {})),
      /:2:1: invalid YAML: Map keys must be unique/,
    );
  });
});

test('precedence: flags > env > file > defaults', () => {
  withFile('http:\n  port: 1111\nbroker:\n  listeners:\n    - type: tcp\n      port: 2222\n', (file, dir) => {
    assert.equal(loadConfig({ config: file }, {}).config.http.port, 1111);
    assert.equal(loadConfig({ config: file }, { SMART_HOME_HTTP_PORT: '3333' }).config.http.port, 3333);
    assert.equal(loadConfig({ config: file, httpPort: 4444 }, { SMART_HOME_HTTP_PORT: '3333' }).config.http.port, 4444);
    assert.equal(loadConfig({ config: file }, { SMART_HOME_MQTT_PORT: '5555' }).config.broker.listeners[0]!.port, 5555);
    // the file in the data dir is found without --config
    assert.equal(loadConfig({ data: dir }, {}, '/').config.http.port, 1111);
  });
});

test('an unknown SMART_HOME_ variable is an error with a did-you-mean', () => {
  assert.match(
    configError(() => loadConfig({}, { SMART_HOME_HTTP_PROT: '1' }, tempDir())),
    /unknown environment variable SMART_HOME_HTTP_PROT \(did you mean "SMART_HOME_HTTP_PORT"\?\)/,
  );
  assert.match(
    configError(() => loadConfig({}, { SMART_HOME_MQTT_PORT: 'abc' }, tempDir())),
    /SMART_HOME_MQTT_PORT: "abc" is not a port number/,
  );
});

test('a missing --config file is an error naming it', () => {
  assert.match(
    configError(() => loadConfig({ config: '/nonexistent/x.yaml' }, {})),
    /\/nonexistent\/x\.yaml: config file not found/,
  );
});

test('an external broker URL must have an MQTT scheme', () => {
  assert.match(
    configError(() => loadConfig({ broker: 'http://x' }, {}, tempDir())),
    /--broker: "http:\/\/x" must start with mqtt:\/\//,
  );
  withFile('mqtt:\n  url: ftp://x\n', (file) => {
    assert.match(
      configError(() => loadConfig({ config: file }, {})),
      /:2:3: mqtt\.url: must start with mqtt:\/\//,
    );
  });
});

test('smart-home.yaml in the default data dir is read without --data (npm start), and that dir stays the data dir', () => {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'data'));
  writeFileSync(path.join(dir, 'data', 'smart-home.yaml'), 'http:\n  port: 8123\n');
  try {
    const { config, file } = loadConfig({}, {}, dir);
    assert.equal(file, path.join(dir, 'data', 'smart-home.yaml'));
    assert.equal(config.http.port, 8123);
    assert.equal(config.data_dir, path.join(dir, 'data'), 'not data/data');
  } finally {
    removeDir(dir);
  }
});

test('a notify template outside the template subset is an error at its line', () => {
  withFile('notify:\n  templates:\n    door: "{% for d in doors %}{{ d }}{% endfor %}"\n', (file, dir) => {
    const msg = configError(() => loadConfig({ config: file, data: dir }, {}, dir));
    assert.match(msg, /smart-home\.yaml:3:5: notify\.templates\.door: /);
  });
});

test("an entity's declarations are checked at load: a default of the wrong type, a state named twice, an unknown type, each at its line", () => {
  const entity = (body: string) => `entities:\n  - id: sensor.boiler\n${body}`;
  withFile(entity('    attributes:\n      temperature:\n        type: float\n        value: warm\n'), (file) => {
    assert.match(
      configError(() => loadConfig({ config: file }, {})),
      /smart-home\.yaml:6:9: entities\.0\.attributes\.temperature\.value: is float: must be a number/,
    );
  });
  withFile(entity('    states:\n      - name: idle\n      - name: idle\n'), (file) => {
    assert.match(
      configError(() => loadConfig({ config: file }, {})),
      /smart-home\.yaml:5:9: entities\.0\.states\.1\.name: state "idle" is declared twice/,
    );
  });
  withFile(entity('    settings:\n      max: {type: number, value: 3}\n'), (file) => {
    assert.match(
      configError(() => loadConfig({ config: file }, {})),
      /smart-home\.yaml:4:7: entities\.0\.settings\.max: must be a value \(text, number, true\/false\) or \{type, value\} with type one of string, int, float/,
    );
  });
  withFile(entity('    settings:\n      max: {type: int, value: "24"}\n      room: hall\n'), (file) => {
    const { config } = loadConfig({ config: file }, {});
    assert.deepEqual(config.entities[0]!.settings, { max: { type: 'int', value: '24' }, room: 'hall' });
  });
});
