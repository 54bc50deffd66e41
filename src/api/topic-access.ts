// The broker's ACL applies to what a non-admin caller does with MQTT through the API (issue 14: a
// user denied home/secret/# over MQTT published there through POST /api/mqtt/publish and read
// all traffic through the topic tree and the live events). Admins, and the open local mode, are
// not limited: they manage the scripts, which publish anywhere anyway.
import type { FastifyRequest } from 'fastify';
import type { ApiHub } from './hub.js';

export type TopicAccess = (topic: string, want: 'read' | 'write') => boolean;

const ANY: TopicAccess = () => true;

export function topicAccess(hub: ApiHub, req: FastifyRequest): TopicAccess {
  const acl = hub.mqttAcl;
  const caller = req.caller;
  if (!acl || !caller || caller.admin) return ANY;
  // no client id over HTTP: %c patterns match nothing
  return (topic, want) => acl.allowed(caller.name, '', topic, want);
}
