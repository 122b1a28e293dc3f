// Switchboard's bootstrap for Lambda's Node.js runtimes (nodejs18.x, nodejs20.x, nodejs22.x).
//
// It does what Lambda's own runtime does (aws/aws-lambda-nodejs-runtime-interface-client): it loads the
// handler named by _HANDLER from LAMBDA_TASK_ROOT by Lambda's rules, then loops on the Runtime API at
// AWS_LAMBDA_RUNTIME_API (next, response, error; init error when loading fails), giving the handler Lambda's
// context object, reporting errors in Lambda's shape and prefixing console output as Lambda does.
//
// Switchboard additions: bare imports that the handler's own node_modules cannot satisfy are resolved from
// SWITCHBOARD_NODE_SDK (where the AWS SDK for JavaScript v3 is installed), for ES modules too; and HTTPS
// connections to *.execute-api.{region}.amazonaws.com go to SWITCHBOARD_GATEWAY_ADDR, keeping the TLS server
// name, so that handlers calling the @connections API of "their" API reach this gateway unchanged.

import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import util from 'node:util';
import * as nodeModule from 'node:module';
import { pathToFileURL } from 'node:url';

const env = process.env;

// ---- Logging: console methods write "TIME\tREQUEST_ID\tLEVEL\tMESSAGE" lines to stdout, as Lambda's
// text log format does (LogPatch.js), with newlines inside a message turned into carriage returns.

let currentRequestId; // undefined before the first invocation, as on Lambda

function writeLog(level, args) {
  const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

for (const [method, level] of [
  ['log', 'INFO'],
  ['info', 'INFO'],
  ['warn', 'WARN'],
  ['error', 'ERROR'],
  ['debug', 'DEBUG'],
  ['trace', 'TRACE'],
  ['fatal', 'FATAL'],
]) {
  console[method] = (...args) => writeLog(level, args);
}

// ---- Errors in Lambda's shape (Errors.js).

function runtimeError(name) {
  const cls = class extends Error {};
  cls.prototype.name = `Runtime.${name}`;
  return cls;
}
const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
const NodeJsExit = runtimeError('NodeJsExit');
const UnhandledPromiseRejection = runtimeError('UnhandledPromiseRejection');

function isErrorLike(e) {
  return e && typeof e.name === 'string' && typeof e.message === 'string' && typeof e.stack === 'string' && e.name && e.message;
}

function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name.replaceAll('\x7F', '%7F'),
        errorMessage: error.message.replaceAll('\x7F', '%7F'),
        trace: error.stack.replaceAll('\x7F', '%7F').split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function formatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => {
      if (v instanceof Error) {
        const out = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
        if (typeof v.stack === 'string') out.stack = v.stack.split('\n');
        return out;
      }
      return v;
    });
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

function logError(what, error) {
  writeLog('ERROR', [what, formatted(error)]);
}

// ---- The Runtime API client.
//
// A small HTTP/1.1 client on kept-alive sockets rather than http.request: Lambda's own runtime client uses
// a native one for the same reason (the per-request machinery of http.request -- agent, ClientRequest,
// IncomingMessage, header objects, stream events -- cost this process more CPU per invocation than the
// rest together). It writes requests with one write and reads answers with a Content-Length
// (Switchboard's Runtime API server always sends one). An invocation's outcome and the next GET /next go
// out in one write (pipelined); the server answers both in order. A request made while others are in
// flight for another purpose (an uncaught error reported while GET /next waits) gets a socket of its own.

const [rtHost, rtPort] = splitHostPort(env.AWS_LAMBDA_RUNTIME_API || '');
const rtHostHeader = `Host: ${env.AWS_LAMBDA_RUNTIME_API || 'localhost'}\r\n`;
const netConnect = net.connect; // before the execute-api redirection below wraps it
const rtIdle = []; // sockets with no request in flight
const NEXT = '/2018-06-01/runtime/invocation/next';

function splitHostPort(hp) {
  const i = hp.lastIndexOf(':');
  return i < 0 ? [hp, 80] : [hp.slice(0, i).replace(/^\[|\]$/g, ''), Number(hp.slice(i + 1))];
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

// RapidConn is one kept-alive connection to the Runtime API; its answers resolve its requests in order.
class RapidConn {
  constructor() {
    this.sock = netConnect({ host: rtHost, port: rtPort });
    this.sock.setNoDelay(true);
    this.chunks = [];
    this.size = 0;
    this.need = 0; // bytes the answer in hand takes, once its head has been read
    this.pending = []; // { resolve, reject } of the requests in flight, oldest first
    this.closed = false;
    this.sock.on('data', (chunk) => this.onData(chunk));
    this.sock.on('error', (err) => this.fail(err));
    this.sock.on('close', () => this.fail(new Error('the Runtime API closed the connection')));
  }

  // send writes request (n requests, one after the other) and returns a promise of each answer.
  send(request, n) {
    const answers = [];
    for (let i = 0; i < n; i++) answers.push(new Promise((resolve, reject) => this.pending.push({ resolve, reject })));
    this.sock.ref();
    this.sock.write(request, 'utf8');
    return answers;
  }

  fail(err) {
    this.closed = true;
    const i = rtIdle.indexOf(this);
    if (i >= 0) rtIdle.splice(i, 1);
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) p.reject(err);
  }

  onData(chunk) {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.pending.length > 0 && this.size > 0 && this.size >= this.need) {
      const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
      this.chunks = [buf];
      const res = parseResponse(buf);
      if (res === undefined) return; // the head is incomplete
      if (typeof res === 'number') {
        this.need = res; // the body is incomplete
        return;
      }
      const p = this.pending.shift();
      if (res instanceof Error) {
        this.sock.destroy();
        this.fail(res);
        p.reject(res);
        return;
      }
      const rest = buf.subarray(res.end);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.size = rest.length;
      this.need = 0;
      if (res.headers.connection === 'close') {
        this.sock.destroy();
        this.fail(new Error('the Runtime API closed the connection'));
        p.resolve(res);
        return;
      }
      p.resolve(res);
    }
    if (this.pending.length === 0 && !this.closed) {
      if (this.size > 0) {
        this.sock.destroy(); // an answer nobody asked for
        this.fail(new Error('the Runtime API sent an answer nobody asked for'));
        return;
      }
      // An idle connection does not keep the process alive, as http.Agent's kept-alive sockets do not:
      // a handler's pending work emptying the event loop is what beforeExit reports.
      this.sock.unref();
      rtIdle.push(this);
    }
  }
}

// parseResponse reads one HTTP/1.1 answer at the start of buf: undefined while its head is incomplete, the
// bytes it takes while its body is, an Error if it cannot be read, or { status, headers (lower-case
// names), body (a string), end (bytes used) }.
function parseResponse(buf) {
  const headEnd = buf.indexOf(CRLFCRLF);
  if (headEnd < 0) return buf.length > 1 << 20 ? new Error('the Runtime API answered a head over 1 MiB') : undefined;
  const lines = buf.toString('latin1', 0, headEnd).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) return new Error(`the Runtime API answered ${JSON.stringify(lines[0])}`);
  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const c = lines[i].indexOf(':');
    if (c > 0) headers[lines[i].slice(0, c).trim().toLowerCase()] = lines[i].slice(c + 1).trim();
  }
  const start = headEnd + 4;
  if (headers['transfer-encoding'] !== undefined) {
    // Switchboard's Runtime API server always sends a Content-Length.
    return new Error(`the Runtime API answered Transfer-Encoding ${headers['transfer-encoding']}, which this bootstrap does not read`);
  }
  const cl = headers['content-length'] === undefined ? 0 : Number(headers['content-length']);
  if (!Number.isSafeInteger(cl) || cl < 0) return new Error(`the Runtime API answered Content-Length ${headers['content-length']}`);
  const end = start + cl;
  if (buf.length < end) return end;
  const body = buf.toString('utf8', start, end);
  return { status: Number(m[1]), headers, body, end };
}

function request(method, p, body, extraHeaders) {
  let req = `${method} ${p} HTTP/1.1\r\n${rtHostHeader}`;
  if (extraHeaders) req += extraHeaders;
  if (body !== undefined) req += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  else req += '\r\n';
  return req;
}

function idleConn() {
  let conn = rtIdle.pop();
  while (conn && conn.closed) conn = rtIdle.pop();
  return conn || new RapidConn();
}

// rapid makes one request and returns a promise of its answer.
function rapid(method, p, body, extraHeaders) {
  return idleConn().send(request(method, p, body, extraHeaders), 1)[0];
}

// rapidThenNext posts an invocation's outcome and GET /next in one write; it returns a promise of the next
// event's answer. A refused outcome is logged, as Lambda's runtime logs it.
function rapidThenNext(p, body, extraHeaders) {
  const [posted, next] = idleConn().send(request('POST', p, body, extraHeaders) + request('GET', NEXT), 2);
  posted.then((res) => {
    if (res.status !== 202) console.error(`POST ${p} answered ${res.status}: ${res.body}`);
  }, () => {}); // a failed connection fails next too, which the loop reports
  return next;
}

// errorTypeHeader is the Lambda-Runtime-Function-Error-Type header line of an error document.
function errorTypeHeader(doc) {
  return `Lambda-Runtime-Function-Error-Type: ${String(doc.errorType || 'Unhandled').replace(/[\r\n]/g, ' ')}\r\n`;
}

function serialize(value) {
  return JSON.stringify(value === undefined ? null : value);
}

// postResponse posts an invocation's result: with andNext, together with GET /next, and the returned
// promise is of the next event's answer; else of the post's.
function postResponse(id, result, andNext) {
  let body;
  try {
    body = serialize(result);
  } catch {
    return postError(id, new Error('Unable to stringify response body'), andNext);
  }
  const p = `/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/response`;
  return andNext ? rapidThenNext(p, body) : rapid('POST', p, body);
}

// postError posts an invocation's error, as postResponse does its result.
function postError(id, error, andNext) {
  const doc = toRapidResponse(error);
  const p = `/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/error`;
  return andNext ? rapidThenNext(p, JSON.stringify(doc), errorTypeHeader(doc)) : rapid('POST', p, JSON.stringify(doc), errorTypeHeader(doc));
}

async function postInitError(error) {
  const doc = toRapidResponse(error);
  await rapid('POST', '/2018-06-01/runtime/init/error', JSON.stringify(doc), errorTypeHeader(doc));
}

// ---- execute-api redirection.

const executeAPIHost = /^[A-Za-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com\.?$/;

if (env.SWITCHBOARD_GATEWAY_ADDR) {
  const [gwHost, gwPort] = splitHostPort(env.SWITCHBOARD_GATEWAY_ADDR);
  // redirect returns options aimed at the gateway when they name an execute-api host on defaultPort.
  const redirect = (options, defaultPort) => {
    if (!options || typeof options !== 'object') return undefined;
    const host = options.host || options.hostname;
    const port = options.port === undefined || options.port === null || options.port === '' ? defaultPort : Number(options.port);
    if (typeof host !== 'string' || !executeAPIHost.test(host) || port !== defaultPort) return undefined;
    return { ...options, host: gwHost, hostname: gwHost, port: gwPort, servername: options.servername || host.replace(/\.$/, '') };
  };
  // https.Agent connects with tls.connect(options) (lib/https.js), so the AWS SDK's NodeHttpHandler,
  // https.request and most HTTP clients built on them come through here.
  const tlsConnect = tls.connect;
  tls.connect = function (...args) {
    const to = redirect(args[0], 443);
    if (to) args[0] = to;
    return tlsConnect.apply(this, args);
  };
  // Plain http:// (port 80): http.Agent's createConnection, and net.connect for agent-less requests.
  const agentConnect = http.Agent.prototype.createConnection;
  http.Agent.prototype.createConnection = function (options, ...rest) {
    return agentConnect.call(this, redirect(options, 80) || options, ...rest);
  };
  for (const name of ['connect', 'createConnection']) {
    const orig = net[name];
    net[name] = function (...args) {
      const to = redirect(args[0], 80);
      if (to) args[0] = to;
      return orig.apply(this, args);
    };
  }
}

// ---- The AWS SDK for ES modules (CommonJS uses NODE_PATH, set by Switchboard).

if (env.SWITCHBOARD_NODE_SDK) {
  if (typeof nodeModule.register === 'function') {
    const parentURL = pathToFileURL(path.join(env.SWITCHBOARD_NODE_SDK, 'package.json')).href;
    nodeModule.register('./hooks.mjs', import.meta.url, { data: { parentURL } });
  } else {
    console.warn(`node ${process.version} has no module.register: ES module handlers cannot import the AWS SDK from ${env.SWITCHBOARD_NODE_SDK}; use node 18.19 or 20.6 or later`);
  }
}

// ---- Loading the handler (UserFunction.js).

function hasPackageJsonTypeModule(folder) {
  for (;;) {
    if (folder.endsWith('/node_modules')) return false;
    const pj = path.join(folder, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module';
      } catch (e) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    const parent = path.dirname(folder);
    if (parent === folder) return false;
    folder = parent;
  }
}

async function loadModule(appRoot, moduleRoot, module) {
  const require = nodeModule.createRequire(path.join(appRoot, 'index.js'));
  const base = path.resolve(appRoot, moduleRoot, module);
  const tryRequire = (ext) => (fs.existsSync(base + ext) ? require(base + ext) : undefined);
  const tryImport = async (ext) => (fs.existsSync(base + ext) ? await import(pathToFileURL(base + ext).href) : undefined);

  const extensionless = tryRequire('');
  if (extensionless) return extensionless;
  const pjModule = fs.existsSync(base + '.js') && hasPackageJsonTypeModule(path.dirname(base + '.js'));
  if (!pjModule) {
    const loaded = tryRequire('.js');
    if (loaded) return loaded;
  }
  const loaded = (pjModule && (await tryImport('.js'))) || (await tryImport('.mjs')) || tryRequire('.cjs');
  if (loaded) return loaded;
  return require(require.resolve(module, { paths: [appRoot, path.resolve(appRoot, moduleRoot)] }));
}

async function loadHandler(appRoot, handler) {
  if (handler.includes('..')) {
    throw new MalformedHandlerName(`'${handler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  const base = path.basename(handler);
  const moduleRoot = handler.substring(0, handler.indexOf(base));
  const match = base.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, module, handlerPath] = match;
  let app;
  try {
    app = await loadModule(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(String(e));
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) throw new ImportModuleError(String(e));
    throw e;
  }
  const fn = handlerPath.split('.').reduce((o, k) => o && o[k], app);
  if (!fn) throw new HandlerNotFound(`${handler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${handler} is not a function`);
  return fn;
}

// ---- The invocation loop (Runtime.js, CallbackContext.js, InvokeContext.js).

let beforeExit = () => {};
process.on('beforeExit', () => beforeExit());

let onUncaught = (error) => postInitError(error).finally(() => process.exit(129));
let onRejection = (error) => postInitError(error).finally(() => process.exit(128));
process.on('uncaughtException', (error) => {
  logError('Uncaught Exception', error);
  onUncaught(error);
});
process.on('unhandledRejection', (reason, promise) => {
  const error = new UnhandledPromiseRejection(reason);
  error.reason = reason;
  error.promise = promise;
  logError('Unhandled Promise Rejection', error);
  onRejection(error);
});

function parseJSONHeader(v, name) {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

// invokeOnce runs one event through handler and posts the outcome with the next GET /next; it resolves
// with the next event's answer, or undefined when posting failed.
function invokeOnce(handler, isAsync, next) {
  const h = next.headers;
  const id = h['lambda-runtime-aws-request-id'];
  const deadline = Number(h['lambda-runtime-deadline-ms']);
  currentRequestId = id;
  if (h['lambda-runtime-trace-id']) env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
  else delete env._X_AMZN_TRACE_ID;

  return new Promise((resolve) => {
    let finished = false; // the first of callback/done/succeed/fail wins
    let completed = false;
    // settle resolves with the next event's answer, posted for with the outcome, or undefined.
    const settle = (p) => p.then(resolve, (e) => {
      console.error('posting the outcome to the Runtime API failed:', e);
      resolve(undefined);
    });
    const postErr = (err) => {
      logError('Invoke Error', err);
      settle(postError(id, err, true));
    };
    const complete = (result) => {
      if (completed) {
        console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
        return;
      }
      completed = true;
      settle(postResponse(id, result, true));
    };
    let waitForEmptyEventLoop = true;
    const once = (fn) => (...args) => {
      if (finished) return;
      finished = true;
      fn(...args);
    };
    const done = (err, result) => {
      beforeExit = () => {};
      if (err !== undefined && err !== null) postErr(err);
      else complete(result);
    };
    const callback = once((err, result) => {
      beforeExit = () => {};
      if (err !== undefined && err !== null) postErr(err);
      else if (!waitForEmptyEventLoop) complete(result);
      else beforeExit = () => {
        beforeExit = () => {};
        setImmediate(() => complete(result));
      };
    });
    const context = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(v) {
        waitForEmptyEventLoop = v;
      },
      succeed: once((result) => done(null, result)),
      fail: once((err) => done(err === undefined || err === null ? 'handled' : err, null)),
      done: once(done),
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
      awsRequestId: id,
      getRemainingTimeInMillis: () => deadline - Date.now(),
    };
    onUncaught = (error) => postError(id, error).finally(() => process.exit(129));
    onRejection = (error) => postError(id, error).finally(() => process.exit(128));
    // The event loop emptied with no outcome: a pending promise (async handler) is an error, a sync
    // handler that never called back succeeds with null.
    beforeExit = () => {
      beforeExit = () => {};
      finished = true;
      if (isAsync) {
        const err = new NodeJsExit('The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes');
        logError('Invoke Error', err);
        settle(postError(id, err, true));
      } else {
        complete(null);
      }
    };
    try {
      context.clientContext = parseJSONHeader(h['lambda-runtime-client-context'], 'ClientContext');
      context.identity = parseJSONHeader(h['lambda-runtime-cognito-identity'], 'CognitoIdentity');
      const result = handler(JSON.parse(next.body), context, callback);
      if (result && typeof result.then === 'function') {
        result.then(context.succeed, context.fail);
      }
    } catch (err) {
      callback(err);
    }
  });
}

async function main() {
  const appRoot = env.LAMBDA_TASK_ROOT || process.cwd();
  let handler;
  try {
    handler = await loadHandler(appRoot, env._HANDLER || '');
  } catch (err) {
    logError('Uncaught Exception', err);
    await postInitError(err).catch(() => {});
    process.exit(129);
  }
  const isAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
  let next = await rapid('GET', NEXT);
  for (;;) {
    if (next.status !== 200) throw new Error(`GET /runtime/invocation/next answered ${next.status}: ${next.body}`);
    next = (await invokeOnce(handler, isAsync, next)) || (await rapid('GET', NEXT));
  }
}

main().catch((err) => {
  process.stderr.write(`switchboard bootstrap: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
