// One reply envelope for HTTP and WebSocket alike: {status: 'ok', data} or
// {status: 'error', error: {code, message, field?}}.
export const ok = <T>(data: T) => ({ status: 'ok' as const, data });

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const envelope = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'error'] },
    data: {},
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
    },
  },
} as const;
