// MQTT: publish, connected clients and their subscriptions, the topic tree (retained messages
// and last values, with provenance), the message trace of the hub's own publishes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiHub } from '../hub.js';
import { ApiError, ok } from '../reply.js';
import { publishTopicProblem } from '../../mqtt/topic.js';
import { MqttError } from '../../mqtt/bus.js';
import type { ExplorerMessage } from '../../mqtt/explorer.js';
import { topicAccess } from '../topic-access.js';

interface PublishBody {
  topic: string;
  payload?: string;
  encoding?: 'utf8' | 'base64' | 'json';
  json?: unknown;
  qos?: 0 | 1 | 2;
  retain?: boolean;
}

/** A message as JSON: text when it is UTF-8, else base64; parsed JSON when it parses. */
export function messageJson(m: ExplorerMessage): Record<string, unknown> {
  const text = m.payload.toString('utf8');
  const binary = !Buffer.from(text, 'utf8').equals(m.payload);
  let json: unknown;
  if (!binary && text.length > 0 && text.length < 100_000) {
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
  }
  return {
    topic: m.topic,
    qos: m.qos,
    retain: m.retain,
    time: m.time,
    size: m.payload.length,
    payload: binary ? m.payload.toString('base64') : text,
    encoding: binary ? 'base64' : 'utf8',
    json,
    source: m.source,
  };
}

export function mqttRoutes(app: FastifyInstance, hub: ApiHub): void {
  const tags = ['mqtt'];
  app.post<{ Body: PublishBody }>(
    '/api/mqtt/publish',
    {
      config: { user: true },
      schema: {
        tags,
        summary: 'publish a message (resolves when complete for its QoS)',
        body: {
          type: 'object',
          required: ['topic'],
          additionalProperties: false,
          properties: {
            topic: { type: 'string', minLength: 1, maxLength: 65535 },
            payload: { type: 'string' },
            json: {},
            encoding: { type: 'string', enum: ['utf8', 'base64', 'json'], default: 'utf8' },
            qos: { type: 'integer', enum: [0, 1, 2], default: 0 },
            retain: { type: 'boolean', default: false },
          },
        },
      },
    },
    async (req) => {
      const b = req.body;
      const bytes =
        b.json !== undefined
          ? Buffer.from(JSON.stringify(b.json))
          : Buffer.from(b.payload ?? '', b.encoding === 'base64' ? 'base64' : 'utf8');
      const r = await publishAs(hub, req, b.topic, bytes, { qos: b.qos ?? 0, retain: b.retain ?? false });
      return ok({ topic: b.topic, size: bytes.length, ackMs: r.ackMs });
    },
  );
  app.get<{ Querystring: { topic: string } }>(
    '/api/mqtt/listeners',
    {
      config: { user: true },
      schema: {
        tags,
        summary:
          'which automations (mqtt triggers, with their latest near miss on the topic) and scripts (subscriptions) look at messages on a topic',
        querystring: {
          type: 'object',
          required: ['topic'],
          properties: { topic: { type: 'string', minLength: 1, maxLength: 65535 } },
        },
      },
    },
    async (req) =>
      ok({
        automations: hub.automations.listenersOf(req.query.topic),
        scripts: hub.scripts.inputs.listenersOf(req.query.topic),
      }),
  );
  app.get(
    '/api/mqtt/clients',
    { schema: { tags, summary: 'connected clients and their subscriptions (embedded broker)' } },
    async () => {
      if (!hub.broker)
        throw new ApiError(
          409,
          'EXTERNAL_BROKER',
          `the hub uses an external broker (${hub.bus.target}); ask that broker for its clients`,
        );
      return ok(hub.broker.clients());
    },
  );
  app.get<{ Querystring: { retained?: boolean } }>(
    '/api/mqtt/topics',
    {
      config: { user: true },
      schema: {
        tags,
        summary: 'the topic tree: last message of every topic (retained ones included) with who published it',
        querystring: { type: 'object', properties: { retained: { type: 'boolean' } } },
      },
    },
    async (req) => {
      const first = !hub.explorer.watching;
      const stop = await hub.explorer.watch();
      // retained messages follow the subscription acknowledgement closely; give them a moment
      if (first) await new Promise((r) => setTimeout(r, 200));
      stop();
      const may = topicAccess(hub, req);
      const all = hub.explorer
        .snapshot()
        .filter((m) => may(m.topic, 'read'))
        .map(messageJson);
      return ok(req.query.retained ? all.filter((m) => m.retain) : all);
    },
  );
  app.delete<{ Querystring: { topic: string } }>(
    '/api/mqtt/retained',
    {
      config: { user: true },
      schema: {
        tags,
        summary: "clear a topic's retained message (publishes an empty retained message, QoS 1, as the caller)",
        querystring: {
          type: 'object',
          required: ['topic'],
          properties: { topic: { type: 'string', minLength: 1, maxLength: 65535 } },
        },
      },
    },
    async (req) => {
      const topic = req.query.topic;
      const r = await publishAs(hub, req, topic, Buffer.alloc(0), { qos: 1, retain: true });
      return ok({ topic, cleared: true, ackMs: r.ackMs });
    },
  );
  app.get<{ Querystring: { limit?: number } }>(
    '/api/mqtt/trace',
    {
      config: { user: true },
      schema: {
        tags,
        summary: "the hub's own publishes: topic, QoS, result, ack latency, script and line",
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        },
      },
    },
    async (req) => {
      const may = topicAccess(hub, req);
      return ok(hub.trace.recent(req.query.limit ?? 100).filter((e) => may(e.topic, 'read')));
    },
  );
}

/** Publishes as the caller: the topic checked, the broker ACL applied, a broker failure a 503. */
async function publishAs(
  hub: ApiHub,
  req: FastifyRequest,
  topic: string,
  bytes: Buffer,
  opts: { qos: 0 | 1 | 2; retain: boolean },
): Promise<{ ackMs?: number }> {
  const problem = publishTopicProblem(topic);
  if (problem) throw new ApiError(400, 'BAD_TOPIC', problem.message, 'topic');
  if (!topicAccess(hub, req)(topic, 'write')) {
    throw new ApiError(
      403,
      'ACL_DENIED',
      `the broker's ACL does not let ${req.caller?.name ?? 'you'} publish to ${topic}`,
      'topic',
    );
  }
  try {
    return await hub.bus.publish(topic, bytes, opts, { script: `api:${req.caller?.name ?? 'local'}` });
  } catch (err) {
    if (err instanceof MqttError) throw new ApiError(503, err.code, err.message);
    throw err;
  }
}
