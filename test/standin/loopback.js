'use strict';
/**
 * What the local test servers (the CloMan stand-in, the incoming-webhook receiver) share: reading a
 * bounded request body, and listening on 127.0.0.1 for a bounded time. node: built-ins only.
 */

/**
 * The request body as UTF-8 text, or null when it is over maxBytes (the rest is read and dropped).
 * @param {import('node:http').IncomingMessage} req @param {number} maxBytes
 * @returns {Promise<string | null>}
 */
function readBody(req, maxBytes) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > maxBytes ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Listens on 127.0.0.1 (port 0 = any free one) without keeping the process alive, and closes the server
 * after lifetimeMs. close() stops listening and destroys open sockets; idempotent; `closed` resolves then.
 * @param {import('node:http').Server} server @param {{ port?: number, lifetimeMs: number }} options
 * @returns {Promise<{ port: number, close: () => Promise<void>, closed: Promise<void> }>}
 */
async function listenOnLoopback(server, { port = 0, lifetimeMs }) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(undefined));
  });
  server.unref();
  /** @type {() => void} */
  let markClosed = () => {};
  /** @type {Promise<void>} */
  const closed = new Promise((resolve) => (markClosed = resolve));
  let closing = false;
  const close = () => {
    if (!closing) {
      closing = true;
      clearTimeout(lifetime);
      server.close(() => markClosed());
      server.closeAllConnections();
    }
    return closed;
  };
  const lifetime = setTimeout(close, lifetimeMs);
  lifetime.unref();
  return { port: /** @type {import('node:net').AddressInfo} */ (server.address()).port, close, closed };
}

/**
 * A numeric command-line option (`--name 5`) of a CLI, or undefined when absent.
 * @param {string[]} argv @param {string} name
 */
function numberArg(argv, name) {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`${name} needs a number`);
  return v;
}

module.exports = { readBody, listenOnLoopback, numberArg };
