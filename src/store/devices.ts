// The devices table and the stored discovery payloads (src/entities/devices.ts turns rows into
// devices; integrations keep what a device announced so it survives a broker that lost it).
import type { Db } from './db.js';

export type DeviceTables = ReturnType<typeof deviceTables>;

export function deviceTables(db: Db) {
  return {
    all: db.prepare('SELECT * FROM devices ORDER BY id'),
    upsert: db.prepare(`INSERT INTO devices (id, integration, name, manufacturer, model, sw_version, hw_version, via,
      area, connections, available, discovery, updated)
      VALUES (@id, @integration, @name, @manufacturer, @model, @swVersion, @hwVersion, @via, @area, @connections,
      @available, @discovery, @updated)
      ON CONFLICT (id) DO UPDATE SET integration = excluded.integration, name = excluded.name,
      manufacturer = excluded.manufacturer, model = excluded.model, sw_version = excluded.sw_version,
      hw_version = excluded.hw_version, via = excluded.via, area = excluded.area, connections = excluded.connections,
      available = excluded.available, discovery = excluded.discovery, updated = excluded.updated`),
    remove: db.prepare('DELETE FROM devices WHERE id = ?'),
    discoveryAll: db.prepare('SELECT * FROM discovery_payloads WHERE integration = ? ORDER BY topic'),
    discoverySet: db.prepare(`INSERT INTO discovery_payloads (topic, integration, payload, status, reason, updated)
      VALUES (@topic, @integration, @payload, @status, @reason, @updated)
      ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, status = excluded.status,
      reason = excluded.reason, updated = excluded.updated`),
    discoveryRemove: db.prepare('DELETE FROM discovery_payloads WHERE topic = ?'),
  };
}
