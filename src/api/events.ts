// The live event stream (/api/events, WebSocket). The client sends
//   {"id": 1, "command": "subscribe", "streams": ["mqtt", "logs", "entities", "automations"], "filter": "#"}
// and gets the reply envelope with the echoed id, then {"stream": "...", "data": {...}} events.
// MQTT messages come from the explorer (with their provenance) and start with a snapshot of the
// topic tree. A slow client is not allowed to grow memory: past 1 MiB buffered, events are
// dropped and counted in the next event's "dropped".
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { ApiHub } from './hub.js';
import { messageJson } from './routes/mqtt.js';
import { capture, filterProblem } from '../mqtt/topic.js';
import { topicAccess } from './topic-access.js';

const STREAMS = ['mqtt', 'logs', 'entities', 'automations'] as const;
type Stream = (typeof STREAMS)[number];
const MAX_BUFFERED = 1 << 20;

/**
 * The stream's entry in the OpenAPI document: @fastify/websocket hides WebSocket routes from
 * @fastify/swagger, so the server adds it through swagger's `transformObject`.
 */
export const EVENTS_OPENAPI = {
  get: {
    tags: ['events'],
    summary: 'live events over a WebSocket',
    description:
      'Open a WebSocket here (same authentication as the rest of the API), then send ' +
      '`{"id": 1, "command": "subscribe", "streams": ["mqtt", "logs", "entities", "automations"], "filter": "home/#"}`. ' +
      'The reply is `{"id": 1, "status": "ok", "data": {"streams", "filter"}}` (or an error naming the field); then events arrive as ' +
      '`{"stream": "mqtt", "data": {"topic", "payload", "retain", "qos", "source": {"script", "line"}}}`, ' +
      '`{"stream": "entities", "data": {"entityId", ...}}` (state changes, definitions, availability, removals), ' +
      '`{"stream": "logs", "data": {"script", "level", "message"}}` and `{"stream": "automations", "data": {run}}`. ' +
      'The mqtt stream starts with the topic tree and follows the broker ACL of the caller. A client that reads too slowly loses events, counted in `dropped`.',
    parameters: [],
    responses: {
      101: { description: 'switching to the WebSocket protocol' },
      401: { description: 'not authenticated' },
    },
  },
} as const;

export function eventRoutes(app: FastifyInstance, hub: ApiHub): void {
  app.get(
    '/api/events',
    {
      config: { user: true },
      websocket: true,
      schema: { tags: ['events'], summary: 'live events over a WebSocket (see the module comment)' },
    },
    (socket: WebSocket, req) => {
      const may = topicAccess(hub, req);
      const offs: (() => void)[] = [];
      let dropped = 0;
      const send = (stream: Stream, data: unknown) => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > MAX_BUFFERED) {
          dropped++;
          return;
        }
        socket.send(JSON.stringify(dropped > 0 ? { stream, data, dropped } : { stream, data }));
        dropped = 0;
      };
      const clear = () => {
        for (const off of offs.splice(0)) off();
      };
      socket.on('close', clear);
      socket.on('message', (raw) => {
        let msg: { id?: unknown; command?: unknown; streams?: unknown; filter?: unknown };
        try {
          msg = JSON.parse(String(raw));
        } catch {
          return socket.send(JSON.stringify({ status: 'error', error: { code: 'BAD_JSON', message: 'send JSON' } }));
        }
        const reply = (body: object) => socket.send(JSON.stringify({ id: msg.id, ...body }));
        if (msg.command !== 'subscribe')
          return reply({
            status: 'error',
            error: { code: 'UNKNOWN_COMMAND', message: 'the only command is "subscribe"', field: 'command' },
          });
        const streams = Array.isArray(msg.streams) ? msg.streams : STREAMS;
        const bad = streams.find((s) => !STREAMS.includes(s as Stream));
        if (bad !== undefined)
          return reply({
            status: 'error',
            error: {
              code: 'UNKNOWN_STREAM',
              message: `unknown stream ${JSON.stringify(bad)}: use ${STREAMS.join(', ')}`,
              field: 'streams',
            },
          });
        const filter = typeof msg.filter === 'string' ? msg.filter : '#';
        const problem = filterProblem(filter);
        if (problem)
          return reply({ status: 'error', error: { code: 'BAD_FILTER', message: problem.message, field: 'filter' } });
        clear();
        if (streams.includes('logs')) offs.push(hub.events.on('script.log', (e) => send('logs', e)));
        if (streams.includes('entities')) {
          offs.push(hub.events.on('entity.stateChanged', (e) => send('entities', e)));
          // an entity that appears, changes its definition, comes and goes: the UI shows it at once
          offs.push(hub.events.on('entity.defined', (e) => send('entities', e)));
          offs.push(hub.events.on('entity.attributesChanged', (e) => send('entities', e)));
          offs.push(hub.events.on('entity.availability', (e) => send('entities', e)));
          offs.push(hub.events.on('entity.removed', (e) => send('entities', e)));
        }
        if (streams.includes('automations')) offs.push(hub.events.on('automation.run', (e) => send('automations', e)));
        reply({ status: 'ok', data: { streams, filter } });
        if (streams.includes('mqtt')) {
          let stopped = false;
          offs.push(() => {
            stopped = true;
          });
          // what the caller's broker ACL lets it read, and nothing else
          const wanted = (topic: string) => capture(filter, topic) !== undefined && may(topic, 'read');
          void hub.explorer
            .watch((m) => {
              if (wanted(m.topic)) send('mqtt', messageJson(m));
            })
            .then(
              (stop) => {
                if (stopped) return stop();
                offs.push(stop);
                for (const m of hub.explorer.snapshot()) if (wanted(m.topic)) send('mqtt', messageJson(m));
              },
              (err: Error) =>
                reply({ status: 'error', error: { code: 'EXPLORER_OFF', message: err.message, field: 'streams' } }),
            );
        }
      });
    },
  );
}
