// lambdactl's Node.js runtime: runs INSIDE the sandbox on the function's own `node`.
//
// Started as `node /var/runtime/node_bootstrap.js`. Loads the handler (CommonJS, or ES modules
// through dynamic import for .mjs and "type":"module"), then loops on the Runtime API
// (`next` -> handler -> `response` | `error`). Node's standard library only.
'use strict';

const fs = require('fs');
const path = require('path');
const http = require('http');
const util = require('util');
const { pathToFileURL } = require('url');

const API = process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001';
const [HOST, PORT] = [API.slice(0, API.lastIndexOf(':')), Number(API.slice(API.lastIndexOf(':') + 1))];
const PREFIX = '/2018-06-01/runtime/';
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || '/var/task';
const MAJOR = Number(process.versions.node.split('.')[0]);
const RUNTIME_MATCH = /nodejs(\d+)/.exec(process.env.AWS_EXECUTION_ENV || '');
// Callback handlers were removed in nodejs24.x (the runtime id decides, not the local node).
const CALLBACKS_REMOVED = (RUNTIME_MATCH ? Number(RUNTIME_MATCH[1]) : MAJOR) >= 24;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const h = Object.assign({}, headers || {});
    if (data !== undefined) h['Content-Length'] = data.length;
    const req = http.request({ host: HOST, port: PORT, path: PREFIX + p, method, agent, headers: h }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// --- console: Lambda's "<time>\t<request id>\t<LEVEL>\t<message>" lines -------------------
let currentRequestId = undefined;
for (const [method, level] of [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'],
  ['error', 'ERROR'], ['debug', 'DEBUG'], ['trace', 'TRACE']]) {
  console[method] = (...args) => {
    const msg = util.format(...args);
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId || 'undefined'}\t${level}\t${msg}\n`);
  };
}

// --- errors -------------------------------------------------------------------------------
class FaultError extends Error {
  constructor(type, message) { super(message); this.name = type; }
}

function toPayload(err) {
  if (err instanceof Error) {
    const trace = typeof err.stack === 'string' ? err.stack.split('\n') : [];
    return { errorType: err.name || 'Error', errorMessage: err.message, trace };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

function logError(p) {
  process.stdout.write(`${new Date().toISOString()}\t${currentRequestId || 'undefined'}\tERROR\t` +
    `${JSON.stringify(p)}\n`);
}

// --- handler loading ----------------------------------------------------------------------
function splitHandler(full) {
  const base = path.basename(full);
  const moduleRoot = full.substring(0, full.length - base.length);
  const m = base.match(/^([^.]*)\.(.*)$/);
  if (!m) throw new FaultError('Runtime.MalformedHandlerName', 'Bad handler');
  return [moduleRoot, m[1], m[2]];
}

function isEsmPackage(dir) {
  for (let d = dir; ; d = path.dirname(d)) {
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj)) {
      try { return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module'; } catch (e) { return false; }
    }
    if (d === path.dirname(d) || d === path.dirname(TASK_ROOT)) return false;
  }
}

async function loadModule(moduleRoot, name) {
  const base = path.resolve(TASK_ROOT, moduleRoot, name);
  for (const ext of ['.js', '.mjs', '.cjs']) {
    const file = base + ext;
    if (!fs.existsSync(file)) continue;
    if (ext === '.mjs' || (ext === '.js' && isEsmPackage(path.dirname(file)))) {
      return import(pathToFileURL(file).href);
    }
    try {
      return require(file);
    } catch (e) {
      if (e && e.code === 'ERR_REQUIRE_ESM') return import(pathToFileURL(file).href);
      throw e;
    }
  }
  // Not a file of the package: a module name resolved through NODE_PATH (a layer).
  return require(name);
}

async function loadHandler(full) {
  const [moduleRoot, name, handlerPath] = splitHandler(full);
  let mod;
  try {
    mod = await loadModule(moduleRoot, name);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new FaultError('Runtime.UserCodeSyntaxError', `${e.name}: ${e.message}`);
    }
    if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(`'${name}'`)) {
      throw new FaultError('Runtime.ImportModuleError', `Error: Cannot find module '${name}'\nRequire stack:\n- /var/runtime/node_bootstrap.js`);
    }
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new FaultError('Runtime.ImportModuleError', `${e.name}: ${e.message}`);
    }
    throw e;
  }
  let fn = mod;
  for (const part of handlerPath.split('.')) {
    fn = fn === undefined || fn === null ? undefined : fn[part];
  }
  if (fn === undefined && mod && mod.default && typeof mod.default === 'object') {
    // CommonJS imported as ESM exposes its exports on `default`.
    fn = handlerPath.split('.').reduce((o, k) => (o == null ? undefined : o[k]), mod.default);
  }
  if (fn === undefined) {
    throw new FaultError('Runtime.HandlerNotFound', `${full} is undefined or not exported`);
  }
  if (typeof fn !== 'function') {
    throw new FaultError('Runtime.HandlerNotFound', `${full} is not a function`);
  }
  if (fn.length >= 3 && CALLBACKS_REMOVED && fn.constructor.name !== 'AsyncFunction') {
    throw new FaultError('Runtime.CallbackHandlerDeprecated',
      'ERROR: AWS Lambda does not support callback-based function handlers for Node.js 24 or later. ' +
      'Use an async handler (async (event, context) => result) instead.');
  }
  return fn;
}

// --- context ------------------------------------------------------------------------------
function parseJson(text) {
  if (text === undefined) return undefined;
  try { return JSON.parse(text); } catch (e) { return undefined; }
}

function makeContext(h, onDone) {
  const deadline = Number(h['lambda-runtime-deadline-ms']);
  const ctx = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: h['lambda-runtime-aws-request-id'],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: undefined,
    clientContext: undefined,
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
  const cognito = parseJson(h['lambda-runtime-cognito-identity']);
  if (cognito) {
    ctx.identity = { cognitoIdentityId: cognito.cognitoIdentityId, cognitoIdentityPoolId: cognito.cognitoIdentityPoolId };
  }
  const cc = parseJson(h['lambda-runtime-client-context']);
  if (cc) ctx.clientContext = { client: cc.client, Custom: cc.custom, custom: cc.custom, env: cc.env };
  if (!CALLBACKS_REMOVED) {
    ctx.done = (err, res) => onDone(err, res);
    ctx.succeed = (res) => onDone(null, res);
    ctx.fail = (err) => onDone(err || 'handled', undefined);
  }
  return ctx;
}

// --- the loop -----------------------------------------------------------------------------
let currentFail = null;  // posts an uncaught error for the invocation in flight

async function postResult(rid, err, result) {
  if (err !== null && err !== undefined) {
    const p = toPayload(err);
    logError(p);
    await request('POST', `invocation/${rid}/error`, JSON.stringify(p),
      { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': p.errorType });
    return;
  }
  let body;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch (e) {
    const p = { errorType: 'Runtime.MarshalError', errorMessage: `Unable to stringify response body: ${e.message}`, trace: [] };
    logError(p);
    await request('POST', `invocation/${rid}/error`, JSON.stringify(p),
      { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': p.errorType });
    return;
  }
  await request('POST', `invocation/${rid}/response`, body, { 'Content-Type': 'application/json' });
}

function runOne(handler, h, eventBody) {
  return new Promise((resolve) => {
    const rid = h['lambda-runtime-aws-request-id'];
    let finished = false;
    // As the official runtime client: when the event loop drains before the handler has
    // answered (a promise that never settles, a callback never called), the answer is null.
    const onDrain = () => finish(null, null, false);
    const finish = (err, res, waitForLoop) => {
      if (finished) return;
      finished = true;
      process.removeListener('beforeExit', onDrain);
      const post = () => postResult(rid, err, res).then(resolve, (e) => { process.stderr.write(`${e}\n`); process.exit(1); });
      if (waitForLoop) process.once('beforeExit', post); else post();
    };
    currentFail = (err) => finish(err, undefined, false);
    let event;
    try {
      event = eventBody.length ? JSON.parse(eventBody.toString('utf8')) : {};
    } catch (e) {
      finish(e, undefined, false);
      return;
    }
    process.once('beforeExit', onDrain);
    const context = makeContext(h, (err, res) => finish(err, res, false));
    const callback = (err, res) => finish(err, res, context.callbackWaitsForEmptyEventLoop);
    let ret;
    try {
      ret = handler(event, context, callback);
    } catch (e) {
      finish(e, undefined, false);
      return;
    }
    if (ret && typeof ret.then === 'function') {
      ret.then((res) => finish(null, res, false), (e) => finish(e, undefined, false));
    } else if (handler.length < 3) {
      finish(null, ret, false);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER || '');
  } catch (e) {
    const p = toPayload(e);
    logError(p);
    await request('POST', 'init/error', JSON.stringify(p),
      { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': p.errorType });
    process.exit(1);
  }
  for (;;) {
    const res = await request('GET', 'invocation/next');
    if (res.status !== 200) {
      process.stderr.write(`Runtime API next failed: ${res.status} ${res.body}\n`);
      process.exit(1);
    }
    const h = res.headers;
    currentRequestId = h['lambda-runtime-aws-request-id'];
    process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'] || '';
    await runOne(handler, h, res.body);
    currentFail = null;
  }
}

for (const ev of ['uncaughtException', 'unhandledRejection']) {
  process.on(ev, (err) => {
    const p = toPayload(err);
    if (ev === 'unhandledRejection') p.errorType = 'Runtime.UnhandledPromiseRejection';
    if (currentFail) {
      const fail = currentFail;
      currentFail = null;
      fail(Object.assign(new Error(p.errorMessage), { name: p.errorType, stack: p.trace.join('\n') }));
      // Lambda restarts the runtime after an uncaught error; exit once the error is posted.
      setTimeout(() => process.exit(129), 50).unref();
    } else {
      logError(p);
      process.exit(129);
    }
  });
}

main().catch((e) => { process.stderr.write(`${e && e.stack || e}\n`); process.exit(1); });
