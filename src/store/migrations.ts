// Numbered schema migrations: index i brings the schema from version i to i+1. Never edit a
// released entry; append a new one.
export const migrations: readonly string[] = [
  /* 1: users, broker persistence, message trace */ `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE broker_retained (topic TEXT PRIMARY KEY, packet BLOB NOT NULL);
  CREATE TABLE broker_subscriptions (
    client_id TEXT NOT NULL, topic TEXT NOT NULL, options TEXT NOT NULL,
    PRIMARY KEY (client_id, topic)
  );
  CREATE TABLE broker_outgoing (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL, broker_id TEXT, broker_counter INTEGER, message_id INTEGER,
    packet BLOB NOT NULL
  );
  CREATE INDEX broker_outgoing_client ON broker_outgoing (client_id, seq);
  CREATE TABLE broker_incoming (
    client_id TEXT NOT NULL, message_id INTEGER NOT NULL, packet BLOB NOT NULL,
    PRIMARY KEY (client_id, message_id)
  );
  CREATE TABLE broker_wills (client_id TEXT PRIMARY KEY, packet BLOB NOT NULL);
  CREATE TABLE message_trace (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL, topic TEXT NOT NULL, size INTEGER NOT NULL,
    qos INTEGER NOT NULL, retain INTEGER NOT NULL,
    source TEXT, line INTEGER, col INTEGER,
    result TEXT NOT NULL, error TEXT, ack_ms REAL
  );
  `,
  /* 2: entities, their state history, per-script storage */ `
  CREATE TABLE entities (
    id TEXT PRIMARY KEY,
    unique_id TEXT UNIQUE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    state TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    last_changed INTEGER,
    last_updated INTEGER,
    available INTEGER NOT NULL DEFAULT 1,
    script TEXT,
    actions TEXT NOT NULL DEFAULT '[]',
    source TEXT NOT NULL DEFAULT 'config'
  );
  CREATE TABLE entity_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_id TEXT NOT NULL,
    state TEXT,
    attributes TEXT NOT NULL,
    time INTEGER NOT NULL
  );
  CREATE INDEX entity_history_entity ON entity_history (entity_id, id);
  CREATE TABLE script_storage (
    script TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (script, key)
  );
  `,
  /* 3: automations and the trace of their runs */ `
  CREATE TABLE automations (
    id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    source TEXT NOT NULL DEFAULT 'file',
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE automation_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    automation_id TEXT NOT NULL,
    started INTEGER NOT NULL,
    finished INTEGER,
    status TEXT NOT NULL,
    trigger TEXT NOT NULL,
    steps TEXT NOT NULL
  );
  CREATE INDEX automation_runs_automation ON automation_runs (automation_id, id);
  `,
  /* 4: API sessions and bearer tokens (only a SHA-256 of each secret is stored) */ `
  CREATE TABLE api_sessions (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    label TEXT,
    csrf TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used INTEGER
  );
  CREATE INDEX api_sessions_user ON api_sessions (user_name);
  CREATE INDEX message_trace_topic ON message_trace (topic, id);
  `,
  /* 5: the MQTT client's durable outbox (QoS 1/2 publishes until acknowledged) */ `
  CREATE TABLE mqtt_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    packet BLOB NOT NULL,
    UNIQUE (client, message_id)
  );
  `,
  /* 6: who owns a persistent MQTT session (a client id belongs to the user who created it) */ `
  CREATE TABLE broker_client_owners (
    client_id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    since INTEGER NOT NULL
  );
  `,
  /* 7: what a bearer token may do (read, user, admin) */ `
  ALTER TABLE api_sessions ADD COLUMN scope TEXT;
  `,
  /* 8: devices, the device and category of an entity, stored discovery payloads */ `
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    integration TEXT NOT NULL,
    name TEXT NOT NULL,
    manufacturer TEXT,
    model TEXT,
    sw_version TEXT,
    hw_version TEXT,
    via TEXT,
    area TEXT,
    connections TEXT NOT NULL DEFAULT '[]',
    available INTEGER NOT NULL DEFAULT 1,
    discovery TEXT,
    updated INTEGER NOT NULL
  );
  ALTER TABLE entities ADD COLUMN device_id TEXT;
  ALTER TABLE entities ADD COLUMN category TEXT;
  CREATE INDEX entities_device ON entities (device_id);
  CREATE TABLE discovery_payloads (
    topic TEXT PRIMARY KEY,
    integration TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    updated INTEGER NOT NULL
  );
  `,
  /* 9: the recorder: history by time, and numeric states downsampled into 5-minute and hourly buckets */ `
  CREATE INDEX entity_history_time ON entity_history (entity_id, time);
  CREATE INDEX entity_history_age ON entity_history (time);
  CREATE TABLE entity_statistics (
    entity_id TEXT NOT NULL,
    period INTEGER NOT NULL,
    start INTEGER NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    mean REAL NOT NULL,
    last REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (entity_id, period, start)
  ) WITHOUT ROWID;
  CREATE INDEX entity_statistics_age ON entity_statistics (period, start);
  `,
  /* 10: an entity's own area (room), over its device's */ `
  ALTER TABLE entities ADD COLUMN area TEXT;
  `,
  /* 11: notifications waiting for their target (ntfy, Telegram, ...), and the ones sent or failed, for a while */ `
  CREATE TABLE notify_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    message TEXT NOT NULL,
    source TEXT NOT NULL,
    created INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    last_error TEXT,
    done_at INTEGER
  );
  CREATE INDEX notify_outbox_due ON notify_outbox (status, next_at);
  `,
  /* 12: what automations wait for (a delay, a state held for a while, a wait_for), to go on after a restart; script timers */ `
  CREATE TABLE automation_waits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    automation TEXT NOT NULL,
    kind TEXT NOT NULL,
    step TEXT NOT NULL,
    event TEXT NOT NULL,
    started INTEGER NOT NULL,
    deadline INTEGER NOT NULL,
    UNIQUE (automation, kind, step, started)
  );
  CREATE TABLE script_timers (
    script TEXT NOT NULL,
    name TEXT NOT NULL,
    due INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (script, name)
  ) WITHOUT ROWID;
  `,
  /* 13: runs are kept per automation and outcome (the last failures are not pushed out by successes) */ `
  CREATE INDEX automation_runs_outcome ON automation_runs (automation_id, status, id);
  `,
];
