'use strict';
/**
 * Validates decide requests and responses against openapi/cloman-decide.openapi.json (JSON Schema 2020-12 via ajv).
 * The schemas are read from the OpenAPI document itself; nothing about the contract is restated here.
 */
const Ajv2020 = require('ajv/dist/2020').default;
const openapi = require('../../openapi/cloman-decide.openapi.json');

const DOC_ID = 'https://cloman.app/openapi/cloman-decide.openapi.json';
/** @type {{ requestBody: any, responses: Record<string, any> }} */
const DECIDE = openapi.paths['/api/v1/public/decide'].post;

// RFC 3339 date-time (what "ISO 8601 timestamp" means on the wire), e.g. 2026-02-19T12:00:00Z or ...12:00:00.123+01:00.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
ajv.addFormat('date-time', (s) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)));
// The OpenAPI document is registered whole so "#/components/schemas/..." references resolve; its
// non-schema top-level members are declared as (inert) keywords to satisfy ajv's strict mode.
ajv.addVocabulary(['openapi', 'info', 'servers', 'security', 'paths', 'components']);
ajv.addSchema(openapi, DOC_ID);

/** @param {{ $ref?: string }} schema a `{ $ref }` to a component schema, as every media type in the document uses */
function compile(schema) {
  if (!schema || typeof schema.$ref !== 'string') throw new Error('contract: expected a {$ref} media-type schema');
  const validate = ajv.getSchema(DOC_ID + schema.$ref);
  if (!validate) throw new Error(`contract: cannot resolve ${schema.$ref}`);
  return validate;
}

const requestValidator = compile(DECIDE.requestBody.content['application/json'].schema);

/** @param {import('ajv').ValidateFunction} validate @param {unknown} value @returns {string[]} */
function run(validate, value) {
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => {
    const allowed = e.params.allowedValues ?? (e.keyword === 'const' ? [e.params.allowedValue] : undefined);
    return `${e.instancePath || '/'} ${e.message}${allowed ? ` (${allowed.map((/** @type {unknown} */ v) => JSON.stringify(v)).join(', ')})` : ''}`;
  });
}

/**
 * @param {unknown} body the parsed JSON request body
 * @returns {string[]} human-readable errors; empty when the body satisfies the documented request schema
 */
function validateDecideRequest(body) {
  return run(requestValidator, body);
}

/**
 * The documented response for an HTTP status: exact key ("401"), else its class ("5XX").
 * @param {number} status
 */
function responseFor(status) {
  return DECIDE.responses[String(status)] ?? DECIDE.responses[`${String(status)[0]}XX`];
}

/**
 * @param {number} status the HTTP status code received
 * @param {unknown} body the parsed JSON response body
 * @returns {string[]} human-readable errors; empty when the body is what the document promises for that status
 */
function validateDecideResponse(status, body) {
  const response = responseFor(status);
  if (!response) return [`status ${status} is not a documented response of POST /api/v1/public/decide`];
  const errors = run(compile(response.content['application/json'].schema), body);
  const envelope = /** @type {{ error?: { status?: unknown } }} */ (body);
  if (status >= 400 && envelope?.error && envelope.error.status !== status) {
    errors.push(`/error/status ${JSON.stringify(envelope.error.status)} differs from the HTTP status ${status}`);
  }
  return errors;
}

module.exports = { validateDecideRequest, validateDecideResponse, openapi };
