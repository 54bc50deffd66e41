// Unit tests of the ACL rules (Mosquitto acl_file semantics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Acl, AclError, matches } from '../../src/broker/acl.js';

test('topic matching follows MQTT wildcards, including # matching the parent level', () => {
  assert.ok(matches('a/#', 'a'));
  assert.ok(matches('a/#', 'a/b/c'));
  assert.ok(matches('a/+/c', 'a/b/c'));
  assert.ok(!matches('a/+/c', 'a/b/d'));
  assert.ok(!matches('#', '$SYS/x'), '[MQTT-4.7.2-1]');
  assert.ok(matches('$SYS/#', '$SYS/broker/uptime'));
  // a filter in the topic position is covered only by an equal or wider rule
  assert.ok(matches('a/#', 'a/+'));
  assert.ok(!matches('a/+', 'a/#'));
  assert.ok(!matches('a/b', 'a/+'));
});

test('rules before any user line apply to anonymous clients; patterns to everyone', () => {
  const acl = Acl.parse(
    'topic read public/#\nuser u1\ntopic write u1/out\npattern read devices/%u/#\npattern readwrite clients/%c',
    'acl',
  );
  assert.ok(acl.allowed(undefined, 'c', 'public/x', 'read'));
  assert.ok(!acl.allowed(undefined, 'c', 'public/x', 'write'));
  assert.ok(!acl.allowed('u1', 'c', 'public/x', 'read'), 'user rules replace anonymous ones');
  assert.ok(acl.allowed('u1', 'c', 'u1/out', 'write'));
  assert.ok(acl.allowed('u1', 'c', 'devices/u1/temp', 'read'));
  assert.ok(!acl.allowed('u1', 'c', 'devices/u2/temp', 'read'));
  assert.ok(acl.allowed('u2', 'kitchen', 'clients/kitchen', 'write'));
});

test('%u and %c never expand to something that adds levels or wildcards', () => {
  const acl = Acl.parse('pattern readwrite devices/%u/#\npattern readwrite c/%c', 'acl');
  assert.ok(!acl.allowed('a/#', 'x', 'devices/a/b', 'read'));
  assert.ok(!acl.allowedFilter('+', 'x', 'devices/+/#'));
  assert.ok(!acl.allowed(undefined, 'x', 'devices//y', 'read'), 'anonymous has no %u');
  assert.ok(!acl.allowed('u', 'a/b', 'c/a/b', 'write'));
});

test('deny rules win', () => {
  const acl = Acl.parse('user u\ntopic readwrite home/#\ntopic deny home/secret', 'acl');
  assert.ok(acl.allowed('u', 'c', 'home/x', 'write'));
  assert.ok(!acl.allowed('u', 'c', 'home/secret', 'read'));
});

test('a bad ACL line names the file and line', () => {
  assert.throws(
    () => Acl.parse('user a\ntopic readwrite a/#/b', 'acl.conf'),
    (e: unknown) => e instanceof AclError && /acl\.conf:2: .*"#" must be a whole last level/.test(e.message),
  );
  assert.throws(() => Acl.parse('\n\nallow everything', 'acl.conf'), /acl\.conf:3: unknown keyword "allow"/);
});
