// Jobs: started from the page, followed live over the jobs' event stream, cancellable.
import { getJson, postJson, postWithProgress } from './api.js';
import { clear, h } from './dom.js';
import { showError, showNews } from './notices.js';
import { isActive, KINDS, progressView, withRates } from './progress.js';

const cards = new Map();
const following = new Set();
const context = { list: null, finished: () => {} };
let localIds = 0;

export function setupJobs(section, { finished }) {
  Object.assign(context, { list: section.querySelector('.jobs'), finished });
}

function card(job, cancel) {
  let entry = cards.get(job.id);
  if (!entry) {
    const title = h('h3', { id: `job-${job.id}` }, KINDS[job.kind] || job.kind);
    const body = h('div', { class: 'body' });
    const stop = h('button', { type: 'button', onclick: () => entry.cancel() }, 'Cancel');
    const element = h('li', { class: 'job', 'aria-labelledby': title.id, 'data-job': job.id }, title, body, stop);
    entry = { element, body, stop, cancel };
    cards.set(job.id, entry);
    context.list.prepend(element);
  }
  return entry;
}

export function render(job, cancel = () => cancelJob(job.id)) {
  const entry = card(job, cancel);
  clear(entry.body, progressView(job, `Progress of ${KINDS[job.kind] || job.kind}`));
  entry.stop.hidden = !isActive(job);
  entry.stop.setAttribute('aria-label', `Cancel ${KINDS[job.kind] || job.kind}`);
}

function finish(job) {
  render(job);
  const name = KINDS[job.kind] || job.kind;
  if (job.state === 'done') showNews(`${name}: finished.`);
  else if (job.state === 'failed') showError(`${name} failed. ${job.error?.message || job.error || ''}`.trim());
  context.finished(job);
}

export function follow(id) {
  if (following.has(id)) return;
  following.add(id);
  const events = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
  events.addEventListener('progress', (event) => render(JSON.parse(event.data)));
  events.addEventListener('done', (event) => {
    events.close();
    following.delete(id);
    finish(JSON.parse(event.data));
  });
  events.onerror = async () => {
    if (events.readyState !== EventSource.CLOSED) return; // the browser reconnects by itself
    following.delete(id);
    // Refused for good (a 401, a gone job): ask once over fetch, which can log in and explain.
    try {
      const job = await getJson(`/api/jobs/${encodeURIComponent(id)}`);
      if (isActive(job)) follow(id); else finish(job);
    } catch (err) {
      showError(err.message);
    }
  };
}

async function cancelJob(id) {
  try {
    render(await postJson(`/api/jobs/${encodeURIComponent(id)}/cancel`, {}));
  } catch (err) {
    showError(err.message);
  }
}

// A job that started or ended anywhere (told by the stream of changes): shown, and followed while it runs.
export async function showJob(id) {
  const job = await getJson(`/api/jobs/${encodeURIComponent(id)}`);
  if (isActive(job)) {
    render(job);
    follow(job.id);
  } else if (!following.has(job.id)) {
    render(job);
  }
}

// Jobs started elsewhere (another tab, a script, the automatic scan) show up when the Jobs view opens.
export async function loadRecentJobs() {
  const page = await getJson('/api/jobs?limit=20');
  for (const job of [...page.items].reverse()) {
    render(job);
    if (isActive(job)) follow(job.id);
  }
}

// Work the page follows over an NDJSON answer; draw(job) hears each state, like a job's events.
export async function runWithProgress(kind, path, body, draw) {
  const controller = new AbortController();
  const started = performance.now();
  let job = { id: `local-${(localIds += 1)}`, kind, state: 'running', files_done: 0, bytes_done: 0 };
  const update = (fields) => { job = { ...job, ...fields }; draw(withRates(job, started), () => controller.abort()); };
  update({});
  try {
    const answer = await postWithProgress(path, body, (progress) => update({ ...progress, current: progress.path }),
      controller.signal);
    update({ state: 'done', result: answer });
    return answer;
  } catch (err) {
    update(err.name === 'AbortError' ? { state: 'cancelled' } : { state: 'failed', error: err.message });
    throw err;
  }
}

export async function startJob(kind, params = {}) {
  try {
    const job = await postJson('/api/jobs', { kind, ...params });
    render(job);
    follow(job.id);
  } catch (err) {
    if (err.code !== 'job_running' || !err.info.job_id) throw err;
    showNews(`${KINDS[kind] || kind} is already running; it is shown under Jobs.`);
    render(await getJson(`/api/jobs/${encodeURIComponent(err.info.job_id)}`));
    follow(err.info.job_id);
  }
}
