// Every call to the REST API: 401 -> the login form, errors as ApiProblem in a person's words.
import { errorWords } from './words.js';

let askForToken = null;
let waitingForLogin = null;

export class ApiProblem extends Error {
  constructor(status, code, detail, info = {}) {
    super(errorWords(status, code, detail));
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.info = info;
  }
}

export function onLoginNeeded(ask) { askForToken = ask; }

// The token goes to the gateway once; it answers with an HttpOnly cookie of its own (which every fetch,
// EventSource and <img> then carries), so the page keeps no token where a script could read it.
// True when the gateway took the token, false when it refused it.
export async function signIn(token) {
  const reply = await fetch('/api/session', {
    method: 'POST', credentials: 'same-origin', headers: headers(true), body: JSON.stringify({ token }),
  });
  if (reply.status === 401) return false;
  if (!reply.ok) throw await problemFrom(reply);
  return true;
}

function login() {
  waitingForLogin ??= askForToken().finally(() => { waitingForLogin = null; });
  return waitingForLogin;
}

function headers(withBody) {
  // Jobs this page starts say so in their row (the jobs view and `modelvault jobs show` tell who started them).
  const result = { Accept: 'application/json', 'X-ModelVault-Started-By': 'page' };
  if (withBody) result['Content-Type'] = 'application/json';
  return result;
}

// The reply as it is (any status), after a login when the API asked for one.
export async function request(method, path, body, signal) {
  let reply;
  try {
    reply = await fetch(path, {
      method, signal, credentials: 'same-origin', headers: headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiProblem(0, 'network', String(err));
  }
  if (reply.status === 401 && askForToken) {
    await login();
    return request(method, path, body, signal);
  }
  return reply;
}

export async function problemFrom(reply) {
  let code = `http_${reply.status}`;
  let detail = reply.statusText;
  let info = {};
  try {
    const answer = await reply.json();
    if (answer && answer.error) ({ code, message: detail } = info = answer.error);
  } catch { /* not JSON: the status alone tells the story */ }
  return new ApiProblem(reply.status, code, detail, info);
}

async function send(method, path, body, signal) {
  const reply = await request(method, path, body, signal);
  if (!reply.ok) throw await problemFrom(reply);
  return reply;
}

export async function getJson(path, signal) {
  return (await send('GET', path, undefined, signal)).json();
}

// A picture as the body (a preview a person chose); the answer's JSON.
export async function putImage(path, file) {
  const reply = await fetch(path, {
    method: 'PUT', credentials: 'same-origin', headers: { Accept: 'application/json', 'Content-Type': file.type },
    body: file,
  });
  if (!reply.ok) throw await problemFrom(reply);
  return reply.json();
}

export async function deleteJson(path) {
  return (await send('DELETE', path)).json();
}

export async function postJson(path, body = {}) {
  return (await send('POST', path, body)).json();
}

export async function putJson(path, body) {
  return (await send('PUT', path, body)).json();
}

// POST with progress: NDJSON lines {"progress": {...}} while the work advances, then the answer.
export async function postWithProgress(path, body, onProgress, signal) {
  const reply = await send('POST', path, { ...body, progress: true }, signal);
  const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let answer = null;
  const take = (line) => {
    if (!line.trim()) return;
    const message = JSON.parse(line);
    if (message.progress) onProgress(message.progress);
    else answer = message;
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const lines = (buffer + value).split('\n');
    buffer = lines.pop();
    lines.forEach(take);
  }
  take(buffer);
  if (answer === null) throw new ApiProblem(0, 'network', 'the answer ended early');
  if (answer.error) throw new ApiProblem(0, answer.error.code, answer.error.message);
  return answer;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== '' && value != null) search.set(key, value);
  }
  return search.toString();
}
