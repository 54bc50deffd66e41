// The one config schema: types, defaults, validation and the error messages all come from here.
import { z } from 'zod';
import { ATTRIBUTE_TYPES, type AttributeType, coerce } from '../entities/declared.js';
import { duration } from '../automations/duration.js';

const port = z.number().int().min(0).max(65535);

const tcpListener = z.strictObject({
  type: z.literal('tcp'),
  host: z.string().default('127.0.0.1'),
  port: port.default(1883),
});
const tlsListener = z.strictObject({
  type: z.literal('tls'),
  host: z.string().default('127.0.0.1'),
  port: port.default(8883),
  cert: z.string().describe('path to the PEM certificate'),
  key: z.string().describe('path to the PEM private key'),
  ca: z.string().optional(),
});
const wsListener = z.strictObject({
  type: z.literal('ws'),
  host: z.string().default('127.0.0.1'),
  port: port.default(9001),
  path: z.string().default('/mqtt'),
});

export const listenerSchema = z.discriminatedUnion('type', [tcpListener, tlsListener, wsListener]);

const brokerSchema = z.strictObject({
  listeners: z
    .array(listenerSchema)
    .min(1)
    .default([{ type: 'tcp', host: '127.0.0.1', port: 1883 }]),
  /** null = decide like Mosquitto 2: anonymous only while every listener is loopback-only and no user exists. */
  allow_anonymous: z.boolean().nullable().default(null),
  max_packet_size: z
    .number()
    .int()
    .min(64)
    .max(268435455)
    .default(1024 * 1024),
  max_connections: z.number().int().min(1).default(1000),
  max_inflight: z.number().int().min(1).max(65535).default(1000),
  max_queued: z.number().int().min(1).default(1000),
  connect_timeout_ms: z.number().int().min(100).default(10000),
  /** Connections one address may hold before CONNECT; past it its oldest unfinished one is closed. */
  max_pending_per_address: z.number().int().min(1).default(32),
  /** Past busy_pending unfinished connections, each gets busy_connect_timeout_ms to send CONNECT. */
  busy_pending: z.number().int().min(1).default(64),
  busy_connect_timeout_ms: z.number().int().min(100).default(2000),
  /**
   * Bytes waiting to be read by one client: over it the client must catch up within
   * slow_client_timeout_ms, over 8 times it is dropped at once (nobody else waits for it).
   */
  max_client_buffer_kb: z.number().int().min(64).default(4096),
  slow_client_timeout_ms: z.number().int().min(100).default(10000),
  max_client_id_length: z.number().int().min(1).max(65535).default(256),
  /** Mosquitto acl_file syntax, inline (a multi-line string) or as a path. */
  acl: z.string().optional(),
  acl_file: z.string().optional(),
  mdns: z.boolean().default(true),
  /** Failed MQTT logins allowed per (address, user) and per address in the window; then refused at once until it passes. */
  auth_failures: z
    .strictObject({
      per_user: z.number().int().min(1).default(10),
      per_address: z.number().int().min(1).default(100),
      window_s: z.number().min(0.1).default(300),
    })
    .default({ per_user: 10, per_address: 100, window_s: 300 }),
  sys_interval_s: z.number().int().min(1).default(10),
});

const mqttSchema = z.strictObject({
  /** Any external broker; when set, the embedded broker is not started. */
  url: z
    .string()
    .regex(/^(mqtts?|wss?):\/\//, 'must start with mqtt://, mqtts://, ws:// or wss://')
    .nullable()
    .default(null),
  username: z
    .string()
    .nullish()
    .transform((v) => v ?? undefined),
  password: z
    .string()
    .nullish()
    .transform((v) => v ?? undefined),
  client_id: z.string().default('smart-home-hub'),
  publish_timeout_ms: z.number().int().min(100).default(10000),
  /** 4 = MQTT 3.1.1, 5 = MQTT 5 (external brokers; the embedded broker speaks 3.1.1). */
  protocol_version: z.union([z.literal(4), z.literal(5)]).default(4),
  /** With an external broker the hub keeps its session (clean session off) unless this is true. */
  clean_session: z.boolean().default(false),
  session_expiry_s: z
    .number()
    .int()
    .min(0)
    .default(7 * 24 * 3600),
  tls: z
    .strictObject({
      ca: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      reject_unauthorized: z.boolean().default(true),
    })
    .optional(),
  /** QoS 0 publishes while disconnected: drop (and count) or queue in memory. QoS 1/2 always wait in the outbox. */
  offline_qos0: z.enum(['drop', 'queue']).default('drop'),
  outbox_max: z.number().int().min(1).max(65000).default(10000),
  /** Several hubs on one broker: script subscriptions become $share/<group>/<filter>, each message handled once. */
  share_group: z
    .string()
    .regex(/^[^/+#$]+$/, 'must not contain "/", "+", "#" or "$"')
    .nullish()
    .transform((v) => v ?? undefined),
});

const httpSchema = z.strictObject({
  enabled: z.boolean().default(true),
  host: z.string().default('127.0.0.1'),
  port: port.default(8080),
});

const scriptsHttpSchema = z.strictObject({
  /**
   * Hosts scripts may reach: names ("api.example.com", "*.example.com"), addresses and ranges
   * ("192.168.1.20", "192.168.1.0/24"). A private or loopback address is reached only when the
   * address or its range is listed itself. Empty: no HTTP from scripts.
   */
  allow: z.array(z.string().min(1)).default([]),
  timeout_ms: z.number().int().min(100).default(10000),
  /** The longest timeout a request may ask for. */
  max_timeout_ms: z.number().int().min(100).default(60000),
  max_response_kb: z
    .number()
    .int()
    .min(1)
    .max(64 * 1024)
    .default(1024),
  max_redirects: z.number().int().min(0).max(20).default(5),
});

const scriptsSchema = z.strictObject({
  memory_limit_mb: z.number().min(1).max(2048).default(32),
  cpu_limit_ms: z.number().int().min(10).default(1000),
  /** A batch of messages going into a script starts no new message after this (I/O is served in between). */
  batch_ms: z.number().int().min(1).max(1000).default(10),
  // QuickJS runs on Node's own stack inside WebAssembly: above ~256 KiB the host's stack
  // overflows before QuickJS notices, so that is the ceiling.
  stack_size_kb: z.number().int().min(32).max(256).default(256),
  max_timers: z.number().int().min(1).default(1000),
  max_pending_publishes: z.number().int().min(1).default(10000),
  /** Largest payload one Mqtt.publish may send (the embedded broker's max_packet_size is 1 MiB by default). */
  max_payload_kb: z
    .number()
    .int()
    .min(1)
    .max(256 * 1024)
    .default(1024),
  /** Payload bytes one script may have waiting for the broker at once (host memory a script can hold). */
  max_pending_mb: z.number().min(1).max(4096).default(64),
  /** What one script may keep in Storage (keys + JSON values), so a loop of Storage.set cannot fill the disk. */
  storage_quota_mb: z.number().min(0.01).max(4096).default(16),
  log_lines: z.number().int().min(10).default(1000),
  /** Longest log line a script may write (longer ones are cut, saying so). */
  max_log_line_kb: z.number().int().min(1).max(1024).default(16),
  /** Log text kept per script in host memory (oldest lines go first). */
  log_kb: z
    .number()
    .int()
    .min(16)
    .max(64 * 1024)
    .default(1024),
  /** Mqtt.subscribe calls one script may have active, and the longest filter it may use. */
  max_subscriptions: z.number().int().min(1).default(1000),
  max_filter_bytes: z.number().int().min(16).max(65535).default(1024),
  /** Share of one core a script may use, averaged over cpu_window_s; past it the script waits (throttled). */
  cpu_share: z.number().min(0.01).max(1).default(0.5),
  cpu_window_s: z.number().int().min(1).max(3600).default(10),
  /** A script throttled in this many windows in a row is stopped. */
  cpu_stop_after_windows: z.number().int().min(1).default(6),
  /** Compiling and type-checking run in a worker thread with these limits; past them it is a located error. */
  compile_timeout_ms: z.number().int().min(100).default(10000),
  compile_memory_mb: z.number().int().min(64).max(8192).default(512),
  /** MQTT messages waiting for one script; beyond this they are dropped, counted and logged. */
  queue_size: z.number().int().min(1).default(1000),
  /** A message chain through scripts longer than this is cut (loop protection). */
  max_hops: z.number().int().min(1).default(8),
  /** http.get/post/put/delete from scripts, run by the hub. */
  http: scriptsHttpSchema.default(scriptsHttpSchema.parse({})),
});

const attrType = z.enum(ATTRIBUTE_TYPES);
const typedSchema = z.strictObject({
  type: attrType,
  value: z.unknown().optional(),
  description: z.string().max(200).optional(),
});
const attrDecl = z.union([attrType, typedSchema], {
  error: `must be a type (one of ${ATTRIBUTE_TYPES.join(', ')}) or {type, value, description}`,
});
const METRIC_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const entitySchema = z
  .strictObject({
    id: z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z0-9_]+$/, 'must be domain.name in lower case, e.g. light.living_room'),
    name: z.string().optional(),
    type: z.string().optional(),
    /** Script file, relative to the scripts dir (data_dir/scripts), that runs the actions. */
    script: z.string().optional(),
    /** e154's MQTT entity: messages on this topic filter go to the script's mqttEvent(message). */
    subscribe_topic: z.string().min(1).optional(),
    /** e154's Zigbee2MQTT entity: this device's messages (zigbee2mqtt/<friendly name>) go to the script's zigbee2mqttEvent(message). */
    zigbee2mqtt_device: z
      .string()
      .min(1)
      .regex(/^[^#+]+$/, 'must be a friendly name (no + or #)')
      .optional(),
    actions: z.array(z.string().min(1)).default([]),
    /** Its room on the dashboard. */
    area: z.string().min(1).max(100).optional(),
    /** e154's entity settings (thresholds, addresses, ...): EntityGetSettings(id) in a script; a value, or typed `{type, value}`. */
    settings: z
      .record(
        z.string(),
        z.union([z.string(), z.number(), z.boolean(), z.null(), typedSchema], {
          error: `must be a value (text, number, true/false) or {type, value} with type one of ${ATTRIBUTE_TYPES.join(', ')}`,
        }),
      )
      .default({}),
    /** e154's named states: the entity's state is one of these names (EntitySetStateName). */
    states: z
      .array(
        z.strictObject({
          name: z.string().min(1).max(100),
          description: z.string().max(200).optional(),
          icon: z.string().max(100).optional(),
        }),
      )
      .default([]),
    /** e154's typed attributes: when given, the entity has only these, each of its type. */
    attributes: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a name like temperature'), attrDecl)
      .default({}),
    /** e154's metrics: series a script adds points to with EntitySetMetric(id, name, {item: number}). */
    metrics: z
      .array(
        z.strictObject({
          name: z.string().regex(METRIC_NAME, 'must be letters, digits, "_" or "-"'),
          description: z.string().max(200).optional(),
          unit: z.string().max(20).optional(),
          items: z
            .array(
              z.strictObject({
                name: z.string().regex(METRIC_NAME, 'must be letters, digits, "_" or "-"'),
                description: z.string().max(200).optional(),
                color: z.string().max(40).optional(),
              }),
            )
            .min(1)
            .max(16),
        }),
      )
      .max(32)
      .default([]),
  })
  .superRefine((e, ctx) => {
    const dup = (names: string[], path: (i: number) => (string | number)[], what: string) =>
      names.forEach((n, i) => {
        if (names.indexOf(n) !== i)
          ctx.addIssue({ code: 'custom', path: path(i), message: `${what} "${n}" is declared twice` });
      });
    dup(
      e.states.map((s) => s.name),
      (i) => ['states', i, 'name'],
      'state',
    );
    dup(
      e.metrics.map((m) => m.name),
      (i) => ['metrics', i, 'name'],
      'metric',
    );
    e.metrics.forEach((m, j) =>
      dup(
        m.items.map((x) => x.name),
        (i) => ['metrics', j, 'items', i, 'name'],
        'item',
      ),
    );
    const check = (where: string, name: string, d: unknown) => {
      if (typeof d !== 'object' || d === null || !('type' in d) || (d as { value?: unknown }).value === undefined)
        return;
      const { type, value } = d as { type: AttributeType; value: unknown };
      const c = coerce(type, value);
      if ('error' in c)
        ctx.addIssue({ code: 'custom', path: [where, name, 'value'], message: `is ${type}: must be ${c.error}` });
    };
    for (const [k, d] of Object.entries(e.attributes)) check('attributes', k, d);
    for (const [k, d] of Object.entries(e.settings)) check('settings', k, d);
  });

const backupSchema = z.strictObject({
  /** How often (e.g. 1d, 12h); none: no scheduled backups. */
  every: duration.optional(),
  /** The newest this many are kept. */
  keep: z.number().int().min(1).max(1000).default(7),
  /** Where they go (relative to the data dir). */
  dir: z.string().min(1).default('backups'),
});

/** Where the home is: the sun's times (sun.sun, sun triggers and conditions) are computed for it. */
const homeSchema = z.strictObject({
  latitude: z
    .number()
    .min(-90, 'must be between -90 and 90 (degrees north; south is negative)')
    .max(90, 'must be between -90 and 90 (degrees north; south is negative)'),
  longitude: z
    .number()
    .min(-180, 'must be between -180 and 180 (degrees east; west is negative)')
    .max(180, 'must be between -180 and 180 (degrees east; west is negative)'),
  /** Metres above sea level (a higher place sees the sun a little earlier). */
  elevation: z.number().min(-500).max(9000).default(0),
  /** The home's time zone (an IANA name like Europe/Berlin); default: this machine's. */
  timezone: z
    .string()
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'is not a time zone: use an IANA name like Europe/Berlin or America/New_York')
    .optional(),
});

/** Forwarding between the embedded broker and an upstream broker, like Mosquitto's bridge. */
const bridgeTopicSchema = z.strictObject({
  /** Topic filter (with + and #) on the side the messages come from. */
  pattern: z.string().min(1),
  direction: z.enum(['out', 'in', 'both']).default('out'),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
  /** Prepended to the topic on the local side / the remote side (e.g. "house1/"). */
  local_prefix: z.string().default(''),
  remote_prefix: z.string().default(''),
});
const bridgeSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, "_" or "-"'),
  url: z.string().regex(/^(mqtts?|wss?):\/\//, 'must start with mqtt://, mqtts://, ws:// or wss://'),
  username: z.string().optional(),
  password: z.string().optional(),
  client_id: z.string().optional(),
  protocol_version: z.union([z.literal(4), z.literal(5)]).default(4),
  topics: z.array(bridgeTopicSchema).min(1),
});

const zigbee2mqttSchema = z.strictObject({
  enabled: z.boolean().default(false),
  base_topic: z.string().min(1).default('zigbee2mqtt'),

  /** Publishes made by entity actions (e.g. "on") are sent at this QoS. */
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),

  /** Devices that said nothing this long after the device list arrived are asked for their state (`/get`). */
  get_after_ms: z.number().int().min(0).max(600_000).default(3000),
});

/** Home Assistant MQTT discovery: ESPHome, Shelly, Tasmota (legacy), OpenMQTTGateway, rtl_433, Frigate ... */
const discoverySchema = z.strictObject({
  enabled: z.boolean().default(false),
  prefix: z
    .string()
    .min(1)
    .regex(/^[^#+]+$/, 'must be a topic prefix without wildcards')
    .default('homeassistant'),
  /** At most this many discovered entities (and kept configs): a broker full of configs cannot grow the hub without bound. */
  max_entities: z.number().int().min(1).max(1_000_000).default(20_000),
});

/** Tasmota's own discovery (`tasmota/discovery/<MAC>/config`, Tasmota 9.3 and later). */
const tasmotaSchema = z.strictObject({
  enabled: z.boolean().default(false),
  discovery_prefix: z.string().min(1).default('tasmota/discovery'),
});

/** History of every entity (src/entities/recorder.ts). */
const recorderSchema = z.strictObject({
  /** Every recorded state is kept this long... */
  keep_days: z.number().min(0.01).max(3650).default(10),
  /** ...and numbers in 5-minute and hourly buckets (min, max, mean, last) this long. */
  keep_statistics_days: z.number().min(1).max(36500).default(730),
  /** Entity id patterns with `*`: record only these (when given), never the excluded ones. */
  include: z.array(z.string().min(1)).default([]),
  exclude: z.array(z.string().min(1)).default([]),
  /** Points one history query returns at most. */
  max_points: z.number().int().min(10).max(1_000_000).default(10_000),
});

const actionsSchema = z.strictObject({
  /** How long a device has to report the state an action asked for before the action fails with TIMEOUT. */
  confirm_timeout_ms: z.number().int().min(100).max(600_000).default(5000),
});

const storeSchema = z.strictObject({
  trace_max_rows: z.number().int().min(100).default(10000),
  /**
   * The SQLite WAL is checkpointed by a thread of its own (about 9 MiB of memory) instead of inside
   * a commit on the event loop, where each checkpoint pauses the broker for 1-10 ms under load.
   * auto: the thread starts once the hub writes 500 rows or more in a second (until then SQLite's
   * own checkpoints, minutes apart at a home's pace); true: from the start; false: never.
   */
  checkpoint_thread: z.union([z.boolean(), z.literal('auto')]).default('auto'),
});

const explorerSchema = z.strictObject({
  /** Topics the MQTT explorer keeps (the oldest go first past it). */
  max_topics: z.number().int().min(10).max(1_000_000).default(10000),
  /** Payload bytes it keeps, in MiB. */
  max_mb: z.number().min(1).max(1024).default(16),
});

/** Settings every notification target has. */
const targetCommon = {
  /** Notifications this target gets per minute at most; more wait their turn (none is dropped). */
  rate_per_minute: z.number().int().min(1).max(6000).default(20),
  timeout_ms: z.number().int().min(100).default(10000),
};
const httpUrl = z.string().regex(/^https?:\/\/[^/]/, 'must be an http:// or https:// URL');
export const notifyTargetSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('ntfy'),
    /** The ntfy server (self-hosted or https://ntfy.sh). */
    url: httpUrl.default('https://ntfy.sh'),
    topic: z.string().min(1),
    /** An access token (tk_...) for a protected topic. */
    token: z.string().min(1).optional(),
    tags: z.array(z.string()).default([]),
    ...targetCommon,
  }),
  z.strictObject({
    type: z.literal('telegram'),
    /** The bot's token from @BotFather. */
    token: z.string().min(1),
    chat_id: z.union([z.string().min(1), z.number().int()]),
    api_url: httpUrl.default('https://api.telegram.org'),
    ...targetCommon,
  }),
  z.strictObject({
    type: z.literal('pushover'),
    /** The application's API token and the user (or group) key. */
    token: z.string().min(1),
    user: z.string().min(1),
    device: z.string().optional(),
    api_url: httpUrl.default('https://api.pushover.net'),
    ...targetCommon,
  }),
  z.strictObject({
    type: z.literal('webhook'),
    url: httpUrl,
    method: z.enum(['POST', 'PUT']).default('POST'),
    headers: z.record(z.string(), z.string()).default({}),
    ...targetCommon,
  }),
  z.strictObject({
    type: z.literal('email'),
    /** The SMTP server. */
    host: z.string().min(1),
    port: port.default(587),
    /** true: TLS from the start (port 465); false: STARTTLS when the server offers it. */
    secure: z.boolean().default(false),
    username: z.string().optional(),
    password: z.string().optional(),
    from: z.string().min(3),
    to: z.union([z.string().min(3), z.array(z.string().min(3)).min(1)]),
    ...targetCommon,
  }),
]);

const notifySchema = z.strictObject({
  /** Where notifications go, by name; scripts and automations name a target, never its token. */
  targets: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, ".", "_" or "-"'), notifyTargetSchema)
    .default({}),
  /** A notification the target did not accept is tried again, waiting retry_base_s, then twice as long each time, up to retry_max_s. */
  max_attempts: z.number().int().min(1).max(1000).default(12),
  retry_base_s: z.number().min(0.01).default(5),
  retry_max_s: z.number().min(0.01).default(1800),
  /** Notifications waiting at once; past it Notify.send is refused (OUTBOX_FULL). */
  max_pending: z.number().int().min(1).default(1000),
  /** Sent and failed notifications are kept this long for the list in the API. */
  keep_days: z.number().min(0).default(7),
  /** Message templates for e154's template.render(name, params), in the template subset of automations. */
  templates: z.record(z.string(), z.string().max(4096)).default({}),
});

export const configSchema = z.strictObject({
  data_dir: z.string().default('./data'),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  broker: brokerSchema.default(brokerSchema.parse({})),
  mqtt: mqttSchema.default(mqttSchema.parse({})),
  http: httpSchema.default(httpSchema.parse({})),
  scripts: scriptsSchema.default(scriptsSchema.parse({})),
  store: storeSchema.default(storeSchema.parse({})),
  explorer: explorerSchema.default(explorerSchema.parse({})),
  entities: z.array(entitySchema).default([]),
  /** Where the home is, for the sun (sun.sun, sun triggers and conditions). */
  home: homeSchema.optional(),
  /** Scheduled backups (smart-home backup FILE makes one by hand). */
  backup: backupSchema.default(backupSchema.parse({})),
  zigbee2mqtt: zigbee2mqttSchema.default(zigbee2mqttSchema.parse({})),
  discovery: discoverySchema.default(discoverySchema.parse({})),
  tasmota: tasmotaSchema.default(tasmotaSchema.parse({})),
  actions: actionsSchema.default(actionsSchema.parse({})),
  recorder: recorderSchema.default(recorderSchema.parse({})),
  bridges: z.array(bridgeSchema).default([]),
  notify: notifySchema.default(notifySchema.parse({})),
});

export type Config = z.infer<typeof configSchema>;
export type ListenerConfig = z.infer<typeof listenerSchema>;
export type BrokerConfig = Config['broker'];
export type ScriptLimits = Config['scripts'];
export type EntityConfig = z.infer<typeof entitySchema>;
export type BridgeConfig = z.infer<typeof bridgeSchema>;
export type NotifyConfig = Config['notify'];
export type NotifyTarget = z.infer<typeof notifyTargetSchema>;
